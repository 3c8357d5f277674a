using System.Collections.Concurrent;

namespace DingTalk.CardGateway.Storage;

/// <summary>
/// Wakes this replica's outbox dispatcher when something was queued, and lets a callback say its answer has left,
/// so the card's update for everyone need not wait out <see cref="OutboxOptions.AnswerFirstDelay"/>.
/// </summary>
public sealed class OutboxSignal : IDisposable
{
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly ConcurrentDictionary<string, byte> _released = new(StringComparer.Ordinal);

    public void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // already awake
        }
    }

    /// <summary>The answer for a callback on this card has been sent: its queued updates may go now.</summary>
    public void AnswerSent(string cardId)
    {
        _released[cardId] = 0;
        Wake();
    }

    /// <summary>
    /// The card, released but leased by another replica for now, stays released for the dispatcher's next pass, without
    /// waking it: it looks again after its poll interval, not in a loop while that replica sends.
    /// </summary>
    public void KeepReleased(string cardId) => _released[cardId] = 0;

    public IReadOnlyCollection<string> TakeReleased()
    {
        var cards = _released.Keys.ToList();
        foreach (var card in cards)
        {
            _released.TryRemove(card, out _);
        }

        return cards;
    }

    public void Dispose() => _wake.Dispose();

    public Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _wake.WaitAsync(timeout, cancellationToken);
}
