namespace DingTalk.CardGateway.Storage;

/// <summary>
/// Which gateway process types into a card now: a lease per card in the database, so replicas sharing it never stream
/// two texts into one card at once. One instance is one owner (one process); each call is a write of its own, outside
/// any callback's unit of work.
/// </summary>
public interface ITypingLeases
{
    /// <summary>
    /// Takes the card's lease for <paramref name="duration"/> when it is free, expired, or already this owner's. Returns
    /// when the card's last frame went (the Unix epoch if none did), so the new owner keeps the card's pace; null while
    /// another owner holds it.
    /// </summary>
    Task<DateTimeOffset?> TryTakeAsync(string cardId, TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>Extends this owner's lease by <paramref name="duration"/> from now; false once it is not this owner's any more.</summary>
    Task<bool> RenewAsync(string cardId, TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>Frees this owner's lease at once, keeping when the card's last frame went.</summary>
    Task ReleaseAsync(string cardId, DateTimeOffset lastFrameAt, CancellationToken cancellationToken);
}
