namespace DingTalk.CardGateway.Storage;

/// <summary>
/// A page of a card's callbacks, newest first.
/// </summary>
/// <param name="Callbacks">The page's callbacks, newest first.</param>
/// <param name="Next">The <c>before</c> that gets the page after this one (older callbacks); null on the last page.</param>
public sealed record CallbackPage(IReadOnlyList<CallbackRecord> Callbacks, string? Next);
