namespace DingTalk.CardGateway.Storage;

/// <summary>
/// Updates for everyone, written in the same transaction as the state change they reflect and delivered by the
/// <c>OutboxDispatcher</c>: at least once, in order per card, retried with backoff, dead-lettered when DingTalk
/// refuses them for good.
/// </summary>
public interface IOutbox
{
    /// <summary>
    /// Queues the update in the current storage session (its transaction, if one is open); returns the id of the entry
    /// that carries it (on SQLite, an update after an answer may join an entry queued earlier in the same group commit).
    /// <paramref name="afterAnswer"/>: it belongs to a callback whose answer DingTalk should get first, so it waits
    /// for <see cref="OutboxSignal.AnswerSent"/> or <see cref="OutboxOptions.AnswerFirstDelay"/>, whichever comes first.
    /// </summary>
    Task<long> EnqueueAsync(PendingCardUpdate update, bool afterAnswer, CancellationToken cancellationToken);

    /// <summary>
    /// A callback's update for everyone, queued after its answer (as <see cref="EnqueueAsync"/> with <c>afterAnswer</c>)
    /// as the open transaction's last entry: no one waits for it by id, so the store may write it with the commit.
    /// </summary>
    Task EnqueueLastAsync(PendingCardUpdate update, CancellationToken cancellationToken);

    Task<OutboxEntry?> FindAsync(long id, CancellationToken cancellationToken);

    /// <summary>
    /// The card's entries that have not been sent, in id order: its oldest 100 pending (a busy card may have thousands
    /// pending for a moment) and its newest 100 dead letters (old ones must not hide the latest refusal).
    /// </summary>
    Task<IReadOnlyList<OutboxEntry>> UnsentForCardAsync(string cardId, CancellationToken cancellationToken);

    /// <summary>
    /// The card's dead letters (of either kind) become <see cref="OutboxStatus.Dismissed"/>: an operator let them go, nothing
    /// is sent again (another system's card, which the gateway has no data to resend for; a card deleted in the chat).
    /// </summary>
    /// <returns>How many were dismissed.</returns>
    Task<int> DismissDeadAsync(string cardId, CancellationToken cancellationToken);

    /// <summary>The entry once it is no longer pending, or as it is after <paramref name="maxWait"/>.</summary>
    Task<OutboxEntry?> WaitAsync(long id, TimeSpan maxWait, CancellationToken cancellationToken);
}
