using DingTalk.CardGateway.Cards;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DingTalk.CardGateway.Hosting;

/// <summary>Ready only if DingTalk gives us an access token (cached, so a probe costs no call while it is valid).</summary>
public sealed class DingTalkTokenHealthCheck(AccessTokenProvider tokens) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            await tokens.GetTokenAsync(timeout.Token);
            return HealthCheckResult.Healthy("DingTalk access token available.");
        }
        catch (Exception ex) when (ex is DingTalkApiException or HttpRequestException or Refit.ApiRequestException or OperationCanceledException or Polly.Timeout.TimeoutRejectedException or Polly.CircuitBreaker.BrokenCircuitException)
        {
            return HealthCheckResult.Unhealthy(tokens.LastError ?? $"DingTalk token call failed: {ex.GetType().Name}");
        }
    }
}
