using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// The card store <paramref name="inner"/>, call for call: a test's wrapper overrides the one call it steps into (a send
/// of the same id run between a look and a store, say) and passes the rest on.
/// </summary>
public abstract class DelegatingCardStore(ICardStore inner) : ICardStore
{
    protected ICardStore Inner => inner;

    public virtual Task SaveAsync(CardRecord card, CancellationToken cancellationToken) => inner.SaveAsync(card, cancellationToken);

    public virtual Task<CardRecord?> TryAddUnconfirmedAsync(CardRecord card, CancellationToken cancellationToken) => inner.TryAddUnconfirmedAsync(card, cancellationToken);

    public virtual Task ConfirmCreationAsync(CardRecord card, CancellationToken cancellationToken) => inner.ConfirmCreationAsync(card, cancellationToken);

    public virtual Task ForgetUnconfirmedAsync(string id, CancellationToken cancellationToken) => inner.ForgetUnconfirmedAsync(id, cancellationToken);

    public virtual Task<CardRecord?> FindAsync(string id, CancellationToken cancellationToken) => inner.FindAsync(id, cancellationToken);

    public virtual Task<CardRecord?> ApplyUpdateAsync(string id, CardDataChange change, CancellationToken cancellationToken) => inner.ApplyUpdateAsync(id, change, cancellationToken);

    public virtual Task<CardRecord?> ApplyLastUpdateAsync(string id, CardDataChange change, CancellationToken cancellationToken) => inner.ApplyLastUpdateAsync(id, change, cancellationToken);
}
