namespace DingTalk.CardGateway.Storage;

/// <summary>
/// A page of callbacks, newest first: up to <paramref name="Limit"/> of them received before <paramref name="Before"/>
/// (the previous page's end), only <paramref name="UserId"/>'s, only those with <paramref name="Outcome"/>, and only
/// those received at or after <paramref name="Since"/>, when given.
/// </summary>
public sealed record CallbackHistoryQuery(
    int Limit, CallbackCursor? Before = null, string? UserId = null, CallbackOutcome? Outcome = null, DateTimeOffset? Since = null);
