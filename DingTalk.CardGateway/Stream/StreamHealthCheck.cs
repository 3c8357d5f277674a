using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Stream;

/// <summary>
/// Ready while the Stream connection is up, or when Stream mode is off (as the gateway started: the connection is opened,
/// or not, at startup, whatever a reloaded configuration says); otherwise not, with the reason.
/// </summary>
public sealed class StreamHealthCheck(StreamConnectionStatus status, IOptions<DingTalkOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(
            !options.Value.Stream.Enabled ? HealthCheckResult.Healthy("Stream mode is off (DingTalk:Stream:Enabled).")
            : status.State == StreamConnectionState.Connected ? HealthCheckResult.Healthy(status.Detail)
            : HealthCheckResult.Unhealthy(status.Detail));
}
