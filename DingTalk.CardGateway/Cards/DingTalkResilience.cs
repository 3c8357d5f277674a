using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.Telemetry;

namespace DingTalk.CardGateway.Cards;

/// <summary>
/// The standard HTTP resilience pipeline (retry with jittered exponential backoff, circuit breaker, timeouts),
/// taught DingTalk's dialect: its throttling is a 403 with a <c>QpsLimit</c> code, not only a 429, and so is its refusal
/// of streaming frames that come too fast (a 403 with no published body); both retried, neither counted as DingTalk failing. A call DingTalk cannot
/// tell from its repeat (<see cref="SendOnce"/>) is not retried once an attempt may have reached it.
/// </summary>
public static class DingTalkResilience
{
    public static void Configure(HttpStandardResilienceOptions options, OutboundOptions outbound, bool retried = true)
    {
        options.Retry.MaxRetryAttempts = Math.Max(1, outbound.MaxRetryAttempts);
        options.Retry.Delay = outbound.RetryBaseDelay;
        options.Retry.BackoffType = DelayBackoffType.Exponential;
        options.Retry.UseJitter = true;
        options.Retry.ShouldHandle = args => ShouldRetryAsync(args.Outcome, args.Context);
        options.Retry.DelayGenerator = args => ValueTask.FromResult(DelayFor(args.Outcome.Result, outbound));
        if (outbound.MaxRetryAttempts == 0 || !retried)
        {
            options.Retry.ShouldHandle = _ => ValueTask.FromResult(false);
        }

        // DingTalk failing (5xx, 429 system.busy, timeouts, no connection) counts toward the breaker; its throttling does
        // not: a 403 QpsLimit… is DingTalk up and answering, about one API's quota, and the retries already wait it out,
        // where an open circuit would refuse every call of the client (creation, updates, streaming) for its break.
#pragma warning disable CA2016 // the token-taking overload is experimental; this check reads no body
        options.CircuitBreaker.ShouldHandle = args => ValueTask.FromResult(HttpClientResiliencePredicates.IsTransient(args.Outcome));
#pragma warning restore CA2016
        options.AttemptTimeout.Timeout = outbound.AttemptTimeout;
        options.CircuitBreaker.SamplingDuration = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(30).Ticks, outbound.AttemptTimeout.Ticks * 2));
        options.TotalRequestTimeout.Timeout = outbound.TotalTimeout > outbound.AttemptTimeout ? outbound.TotalTimeout : outbound.AttemptTimeout * 2;
    }

    private static ValueTask<bool> ShouldRetryAsync(Outcome<HttpResponseMessage> outcome, ResilienceContext context) =>
        SendOnce.Of(context.GetRequestMessage()) is { MayHaveArrived: true }
            ? ValueTask.FromResult(false) // it may be in the chat already: a second attempt could show it twice
            : IsTransientAsync(outcome, context.CancellationToken);

    private static async ValueTask<bool> IsTransientAsync(Outcome<HttpResponseMessage> outcome, CancellationToken cancellationToken)
    {
#pragma warning disable CA2016 // the token-taking overload is experimental; this check reads no body
        if (HttpClientResiliencePredicates.IsTransient(outcome))
#pragma warning restore CA2016
        {
            return true;
        }

        if (outcome.Result is { StatusCode: System.Net.HttpStatusCode.Forbidden } response)
        {
            var error = await DingTalkErrorReader.ReadAsync(response, cancellationToken);
            return DingTalkErrors.AsksToWait(response.RequestMessage, response.StatusCode, error);
        }

        return false;
    }

    /// <summary>
    /// The wait before retrying after <paramref name="response"/>: what its <c>Retry-After</c> asks (at most a minute);
    /// after DingTalk's throttling 403, at least <see cref="OutboundOptions.ThrottleDelay"/> and a jitter whatever it
    /// asks; otherwise null, the standard exponential backoff.
    /// </summary>
    internal static TimeSpan? DelayFor(HttpResponseMessage? response, OutboundOptions outbound)
    {
        TimeSpan? asked = response is not null && DingTalkErrorReader.RetryAfterOf(response) is { } retryAfter
            ? Clamp(retryAfter, TimeSpan.Zero, TimeSpan.FromMinutes(1))
            : null;
        if (response?.StatusCode == System.Net.HttpStatusCode.Forbidden)
        {
            // DingTalk's QPS window is a second: waiting less only earns another 403.
            var least = outbound.ThrottleDelay + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 250));
            return asked > least ? asked : least;
        }

        return asked;
    }

    /// <summary>
    /// Polly's own log of each attempt, each retry and each timeout, at Debug: it wrote attempts and retries as warnings,
    /// each with the exception's whole stack trace, for every attempt of every call — some 400 lines for one call to an
    /// unreachable DingTalk — and each timed-out attempt as an error without an event id (three for one Stream open call
    /// that hung 30 s), while the gateway says each failed call once, in its own line (9004, 3203, 4102, 5003). The
    /// circuit opening keeps its level.
    /// </summary>
    internal static ResilienceEventSeverity Severity(SeverityProviderArguments args) =>
        args.Event.EventName is "ExecutionAttempt" or "OnRetry" or "OnTimeout" ? ResilienceEventSeverity.Debug : args.Event.Severity;

    private static TimeSpan Clamp(TimeSpan value, TimeSpan min, TimeSpan max) =>
        value < min ? min : value > max ? max : value;
}
