using System.Collections.Concurrent;

namespace DingTalk.CardGateway.Storage;

/// <summary>Cards in process memory; lost on restart.</summary>
public sealed class InMemoryCardStore(TimeProvider clock) : ICardStore
{
    private readonly ConcurrentDictionary<string, CardRecord> _cards = new(StringComparer.Ordinal);

    public Task SaveAsync(CardRecord card, CancellationToken cancellationToken)
    {
        _cards[card.Id] = card;
        return Task.CompletedTask;
    }

    public Task<CardRecord?> FindAsync(string id, CancellationToken cancellationToken) =>
        Task.FromResult(_cards.GetValueOrDefault(id));

    public Task<CardRecord?> ApplyUpdateAsync(string id, CardDataChange change, CancellationToken cancellationToken)
    {
        while (_cards.TryGetValue(id, out var card))
        {
            var updated = change.ApplyTo(card, clock.GetUtcNow());
            if (_cards.TryUpdate(id, updated, card))
            {
                return Task.FromResult<CardRecord?>(updated);
            }
        }

        return Task.FromResult<CardRecord?>(null);
    }
}
