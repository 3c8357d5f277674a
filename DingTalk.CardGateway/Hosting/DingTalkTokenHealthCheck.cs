using DingTalk.CardGateway.Cards;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DingTalk.CardGateway.Hosting;

/// <summary>Ready only if DingTalk gives us an access token (cached, so a probe costs no call while it is valid).</summary>
public sealed class DingTalkTokenHealthCheck(AccessTokenProvider tokens) : IHealthCheck
{
    private const string CheckThePath = DingTalkErrors.CheckTheNetworkPath + ".";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            using (AccessTokenProvider.CallerReportsRefusal()) // readiness says it, and a probe every few seconds must not log it each time
            {
                await tokens.GetTokenAsync(timeout.Token);
            }
            return HealthCheckResult.Healthy("DingTalk access token available.");
        }
        catch (Exception ex) when (ex is DingTalkApiException or HttpRequestException or Refit.ApiRequestException or OperationCanceledException or Polly.Timeout.TimeoutRejectedException or Polly.CircuitBreaker.BrokenCircuitException)
        {
            // The refusal, or the network's own words, rather than Refit's wrapper's type name.
            var cause = DingTalkErrors.CauseOf(ex);
            return HealthCheckResult.Unhealthy(cause switch
            {
                DingTalkApiException => tokens.LastError ?? cause.Message,
                OperationCanceledException or Polly.Timeout.TimeoutRejectedException => $"DingTalk did not answer the token call in time; {CheckThePath}",
                Polly.CircuitBreaker.BrokenCircuitException => $"DingTalk failed repeatedly, so calls to it are paused (circuit open); {CheckThePath}",
                _ => $"DingTalk could not be reached for a token ({cause.Message}); {CheckThePath}",
            });
        }
    }
}
