using System.Net;

namespace DingTalk.CardGateway.Cards;

/// <summary>DingTalk answered an OpenAPI call with an error: its status, <c>code</c>, <c>message</c> and <c>requestid</c>.</summary>
public sealed class DingTalkApiException : Exception
{
    public DingTalkApiException(HttpStatusCode statusCode, string? code, string? dingTalkMessage, string? requestId, IReadOnlyList<string>? requiredScopes = null)
        : base($"DingTalk answered {(int)statusCode} {code ?? "(no code)"}: {dingTalkMessage}")
    {
        StatusCode = statusCode;
        Code = code;
        DingTalkMessage = dingTalkMessage;
        RequestId = requestId;
        RequiredScopes = requiredScopes ?? [];
    }

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
