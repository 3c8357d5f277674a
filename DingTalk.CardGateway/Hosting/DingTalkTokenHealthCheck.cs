using DingTalk.CardGateway.Cards;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// Ready only if DingTalk gives us an access token, said from the token provider's state rather than by awaiting
/// DingTalk: a valid token costs no call; otherwise the probe starts the one fetch (or joins the one under way: probes
/// never add a call however many come), waits for it within <see cref="ReadinessWait.Bound"/>, and else answers with
/// the last fetch's failure, or, before any outcome, that DingTalk has not answered yet.
/// </summary>
public sealed class DingTalkTokenHealthCheck(AccessTokenProvider tokens, TimeProvider clock) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        AccessTokenProvider.PendingFetch? fetch;
        using (AccessTokenProvider.CallerReportsRefusal()) // readiness says it, and a probe every few seconds must not log it each time
        {
            fetch = tokens.FetchIfDue();
        }

        if (fetch is null)
        {
            return HealthCheckResult.Healthy("DingTalk access token available.");
        }

        var ended = await ReadinessWait.EndedAsync(fetch.Task, fetch.StartedAt, clock, cancellationToken);
        if (ended && fetch.Task.IsCompletedSuccessfully)
        {
            return HealthCheckResult.Healthy("DingTalk access token available.");
        }

        // The token held carries every call until it expires, however its renewal goes: a renewal that failed at once is
        // no less ready than one that hangs.
        if (fetch.TokenStillValid)
        {
            return HealthCheckResult.Healthy(ended && tokens.LastError is { } renewal
                ? $"DingTalk access token available until it expires; its renewal failed, and is tried again: {renewal}"
                : "DingTalk access token available (a new one is being fetched).");
        }

        if (ended)
        {
            return HealthCheckResult.Unhealthy(tokens.LastError ?? "DingTalk's token call failed.");
        }

        // DingTalk has not answered yet: say what is known rather than wait for it.

        return tokens.LastError is { } last
            ? HealthCheckResult.Unhealthy(last)
            : HealthCheckResult.Unhealthy(
                $"DingTalk has not answered the token call yet ({ReadinessWait.Since(fetch.StartedAt, clock)} so far): not ready until it does; if it lasts, {DingTalkErrors.CheckTheNetworkPath}.",
                data: ReadinessLog.Pending);
    }
}
