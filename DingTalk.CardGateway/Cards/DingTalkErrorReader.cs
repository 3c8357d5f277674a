using System.Text.Json;
using DingTalk.CardGateway.Cards.Wire;
using DingTalk.CardGateway.Hosting;

namespace DingTalk.CardGateway.Cards;

/// <summary>Reads DingTalk's <c>{code, message, requestid}</c> from a failed answer, tolerating any body.</summary>
public static class DingTalkErrorReader
{
    public static async Task<DingTalkErrorBody?> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return null;
        }

        try
        {
            // Buffered so that the retry policy, the token handler and Refit can each read it.
            await response.Content.LoadIntoBufferAsync(cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            return string.IsNullOrWhiteSpace(text) ? null : JsonSerializer.Deserialize<DingTalkErrorBody>(text, GatewayJson.Options);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// DingTalk's refusal as an exception, its message masked by <paramref name="masker"/>: DingTalk may echo the access
    /// token it refused, and the message goes on to the caller's problem details, a dead letter and readiness.
    /// </summary>
    public static async Task<DingTalkApiException> ToExceptionAsync(HttpResponseMessage response, SecretMasker masker, CancellationToken cancellationToken)
    {
        var body = await ReadAsync(response, cancellationToken);
        return new DingTalkApiException(
            response.StatusCode,
            body?.Code,
            body?.Message is { } message ? masker.Apply(message) : response.ReasonPhrase,
            body?.RequestId,
            body?.AccessDeniedDetail?.RequiredScopes)
        {
            AfterUncertainAttempt = UncertainAttemptHandler.IsMarked(response.RequestMessage),
            AskedToWait = DingTalkErrors.AsksToWait(response.RequestMessage, response.StatusCode, body),
            RetryAfter = RetryAfterOf(response),
        };
    }

    /// <summary>The wait DingTalk's <c>Retry-After</c> asks for (a number of seconds or a date), or null when it asks none.</summary>
    public static TimeSpan? RetryAfterOf(HttpResponseMessage response)
    {
        if (response.Headers.RetryAfter is not { } retryAfter)
        {
            return null;
        }

        // A date is read against the answer's own Date (the same clock wrote both), so a skewed local clock does not bend it.
        var asked = retryAfter.Delta ?? (retryAfter.Date - (response.Headers.Date ?? DateTimeOffset.UtcNow)) ?? TimeSpan.Zero;
        return asked > TimeSpan.Zero ? asked : TimeSpan.Zero;
    }
}
