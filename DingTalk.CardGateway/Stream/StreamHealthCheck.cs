using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Stream;

/// <summary>Ready while the Stream connection is up, or when Stream mode is off; otherwise not, with the reason.</summary>
public sealed class StreamHealthCheck(StreamConnectionStatus status, IOptionsMonitor<DingTalkOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(
            !options.CurrentValue.Stream.Enabled ? HealthCheckResult.Healthy("Stream mode is off (DingTalk:Stream:Enabled).")
            : status.State == StreamConnectionState.Connected ? HealthCheckResult.Healthy(status.Detail)
            : HealthCheckResult.Unhealthy(status.Detail));
}
