namespace DingTalk.CardGateway.Cards;

/// <summary>What an OpenAPI error means for the caller; see dingtalk-wire.md §1.</summary>
public enum DingTalkErrorKind
{
    /// <summary>Token expired or unknown: refresh once and retry.</summary>
    InvalidToken,

    /// <summary>Throttled (403 QPS limits, 429) or overloaded (5xx): retry with backoff.</summary>
    Transient,

    /// <summary>Card or template unknown.</summary>
    NotFound,

    /// <summary>Our request was wrong: no retry.</summary>
    BadRequest,

    /// <summary>Missing permission, monthly quota, bad credentials: no retry, an operator must act.</summary>
    Refused,
}
