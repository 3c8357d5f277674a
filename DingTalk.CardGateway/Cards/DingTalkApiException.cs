using System.Net;

namespace DingTalk.CardGateway.Cards;

/// <summary>
/// DingTalk answered an OpenAPI call with an error: its status, <c>code</c>, <c>message</c> and <c>requestid</c>, and the
/// call. The message ends with the scopes DingTalk requires, the call and the request id (<see cref="Trail"/>), since it is
/// what a log line with the exception says, and the request id is what DingTalk's support asks for.
/// </summary>
public sealed partial class DingTalkApiException : Exception
{
    public DingTalkApiException(
        HttpStatusCode statusCode, string? code, string? dingTalkMessage, string? requestId, IReadOnlyList<string>? requiredScopes = null, string? call = null)
        : base($"DingTalk answered {(int)statusCode} {code ?? "(no code)"}: {dingTalkMessage}{TrailOf(requiredScopes, call, requestId)}")
    {
        StatusCode = statusCode;
        Code = code;
        DingTalkMessage = dingTalkMessage;
        RequestId = requestId;
        RequiredScopes = requiredScopes ?? [];
        Call = call;
        Trail = TrailOf(requiredScopes, call, requestId);
    }

    /// <summary>The call DingTalk answered, method and path (<c>PUT /v1.0/card/instances</c>), when known.</summary>
    public string? Call { get; }

    /// <summary>
    /// What the code and message do not say, as a parenthesis to end a sentence with:
    /// <c>" (requires Card.Streaming.Write; PUT /v1.0/card/streaming; requestid 5E1…)"</c>, or empty.
    /// </summary>
    public string Trail { get; }

    /// <summary>The request id a text ending in <see cref="Trail"/> names (a dead letter's <c>lastError</c>), or null.</summary>
    public static string? RequestIdIn(string? text) =>
        text is not null && RequestIdPattern().Match(text) is { Success: true } found ? found.Groups[1].Value : null;

    private static string TrailOf(IReadOnlyList<string>? requiredScopes, string? call, string? requestId)
    {
        string?[] parts =
        [
            requiredScopes is { Count: > 0 } ? "requires " + string.Join(", ", requiredScopes) : null,
            call,
            string.IsNullOrEmpty(requestId) ? null : "requestid " + requestId,
        ];
        var said = string.Join("; ", parts.Where(p => p is not null));
        return said.Length == 0 ? "" : $" ({said})";
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"[(;] ?requestid ([^\s;)]+)\)$")]
    private static partial System.Text.RegularExpressions.Regex RequestIdPattern();

    public HttpStatusCode StatusCode { get; }

    public string? Code { get; }

    public string? DingTalkMessage { get; }

    public string? RequestId { get; }

    public IReadOnlyList<string> RequiredScopes { get; }

    /// <summary>
    /// An earlier attempt of the same call timed out, broke off or got a 5xx, so DingTalk may have carried it out
    /// (<see cref="UncertainAttemptHandler"/>): a "already exists" now may be that attempt's doing.
    /// </summary>
    public bool AfterUncertainAttempt { get; init; }

    /// <summary>
    /// How long DingTalk's <c>Retry-After</c> asked the caller to wait before trying again (null: it asked nothing), so a
    /// caller that retries later — the outbox — does not come back sooner than DingTalk asked.
    /// </summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>
    /// DingTalk refused the call for good (a bad request, an unknown card or template, a missing permission) and no attempt
    /// of it may have been carried out before: whatever it asked for did not happen.
    /// </summary>
    public bool CertainlyRefused =>
        !AfterUncertainAttempt && Kind is DingTalkErrorKind.BadRequest or DingTalkErrorKind.NotFound or DingTalkErrorKind.Refused;

    /// <summary>
    /// DingTalk asked to wait rather than refused (<see cref="DingTalkErrors.AsksToWait"/>): its throttling, which the code
    /// alone tells, or its pace refusal on the streaming API, which only the call's path tells.
    /// </summary>
    public bool AskedToWait { get; init; }

    public DingTalkErrorKind Kind => AskedToWait ? DingTalkErrorKind.Transient : DingTalkErrors.Classify(StatusCode, Code);
}
