namespace DingTalk.CardGateway.Storage;

/// <summary>
/// A page of a card's callbacks, newest first; <paramref name="Next"/> is the <c>before</c> that gets the page after it
/// (older ones), null on the last.
/// </summary>
public sealed record CallbackPage(IReadOnlyList<CallbackRecord> Callbacks, string? Next);
