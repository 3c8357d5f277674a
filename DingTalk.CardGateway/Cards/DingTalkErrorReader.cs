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
            body?.Message is { } message ? masker.Apply(message) : body is null ? NotDingTalks(response) : response.ReasonPhrase,
            body?.RequestId,
            body?.AccessDeniedDetail?.RequiredScopes,
            CallOf(response.RequestMessage))
        {
            AfterUncertainAttempt = UncertainAttemptHandler.IsMarked(response.RequestMessage),
            AskedToWait = DingTalkErrors.AsksToWait(response.RequestMessage, response.StatusCode, body),
            RetryAfter = RetryAfterOf(response),
        };
    }

    /// <summary>
    /// A refusal without DingTalk's JSON (no <c>code</c>, no <c>requestid</c>): said with its content type, since it is
    /// most often something in between answering for DingTalk (a proxy's or a load balancer's page), not DingTalk.
    /// </summary>
    private static string NotDingTalks(HttpResponseMessage response)
    {
        var body = response.Content.Headers.ContentLength is null or 0 ? "no body"
            : response.Content.Headers.ContentType?.MediaType is { } type ? $"a {type} body"
            : "a body without a content type";
        return $"{response.ReasonPhrase}, with {body}: not DingTalk's JSON, so perhaps not DingTalk's answer but that of something in between (a proxy, a load balancer)";
    }

    /// <summary>
    /// A 2xx whose body DingTalk's JSON reader could not read (a proxy's or a captive portal's page, a body cut short, none
    /// at all), as a DingTalk error naming the call, the status and the content type: 502 <see cref="DingTalkErrors.UnreadableAnswer"/>,
    /// worth trying again like <see cref="DingTalkErrors.NotSucceeded"/>, since the call may well have been carried out.
    /// Without it, the caller got the gateway's own 500 and the log a stack trace through Refit.
    /// </summary>
    public static DingTalkApiException Unreadable(HttpResponseMessage response, Exception exception, SecretMasker masker)
    {
        var call = CallOf(response.RequestMessage);
        var contentType = response.Content.Headers.ContentType?.MediaType ?? "no content type";
        var reason = masker.Apply((exception.InnerException ?? exception).Message);
        return new DingTalkApiException(
            System.Net.HttpStatusCode.BadGateway,
            DingTalkErrors.UnreadableAnswer,
            $"{call ?? "the call"} was answered {(int)response.StatusCode} ({contentType}) with a body that is not DingTalk's JSON, as a proxy's page or a body cut short is: {reason}",
            requestId: null,
            call: call);
    }

    /// <summary>The call as DingTalk's documentation names it: method and path (<c>PUT /v1.0/card/instances</c>).</summary>
    public static string? CallOf(HttpRequestMessage? request) =>
        request?.RequestUri is { } uri ? $"{request.Method.Method} {(uri.IsAbsoluteUri ? uri.AbsolutePath : uri.OriginalString)}" : null;

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
