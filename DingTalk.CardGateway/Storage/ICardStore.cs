namespace DingTalk.CardGateway.Storage;

/// <summary>The cards the gateway created.</summary>
public interface ICardStore
{
    Task SaveAsync(CardRecord card, CancellationToken cancellationToken);

    Task<CardRecord?> FindAsync(string id, CancellationToken cancellationToken);

    /// <summary>Applies public and private data changes (merge by key, or replace) and bumps the version.</summary>
    Task<CardRecord?> ApplyUpdateAsync(string id, CardDataChange change, CancellationToken cancellationToken);
}
