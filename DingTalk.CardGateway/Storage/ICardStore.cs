namespace DingTalk.CardGateway.Storage;

/// <summary>The cards the gateway created.</summary>
public interface ICardStore
{
    Task SaveAsync(CardRecord card, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a card about to be sent (<see cref="CardRecord.CreationConfirmed"/> false) unless a card is stored under its
    /// id already — another send of it stored it since this one looked: null then, and nothing changes.
    /// </summary>
    /// <returns>
    /// The card as stored: <paramref name="card"/> with the updates of its kind still queued for its id folded in, in
    /// order — updates made before the id had a card (an operator's <c>PUT</c> a moment before the send), which reach the
    /// card DingTalk creates.
    /// </returns>
    Task<CardRecord?> TryAddUnconfirmedAsync(CardRecord card, CancellationToken cancellationToken);

    /// <summary>
    /// DingTalk has the card: the stored one's <see cref="CardRecord.CreationConfirmed"/> becomes true and nothing else
    /// changes (the updates and clicks it got since it was stored stay); with no card stored under its id (another send of
    /// it, which DingTalk refused, took it away), <paramref name="card"/> is stored, confirmed.
    /// </summary>
    Task ConfirmCreationAsync(CardRecord card, CancellationToken cancellationToken);

    /// <summary>DingTalk refused to create the card: its row goes, if it is still unconfirmed.</summary>
    Task ForgetUnconfirmedAsync(string id, CancellationToken cancellationToken);

    Task<CardRecord?> FindAsync(string id, CancellationToken cancellationToken);

    /// <summary>Applies public and private data changes (merge by key, or replace) and bumps the version.</summary>
    Task<CardRecord?> ApplyUpdateAsync(string id, CardDataChange change, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="ApplyUpdateAsync"/> as the open transaction's last change of the card: nothing after it in the
    /// transaction reads the card but this store, so the store may write it with the transaction's commit.
    /// </summary>
    Task<CardRecord?> ApplyLastUpdateAsync(string id, CardDataChange change, CancellationToken cancellationToken);
}
