namespace DingTalk.CardGateway.Storage;

/// <summary>
/// A page of one card's callbacks, newest first: up to <paramref name="Limit"/> of them received before
/// <paramref name="Before"/> (the previous page's end), only <paramref name="UserId"/>'s and only those with
/// <paramref name="Outcome"/>, when given.
/// </summary>
public sealed record CallbackHistoryQuery(int Limit, CallbackCursor? Before = null, string? UserId = null, CallbackOutcome? Outcome = null);
