namespace DingTalk.CardGateway.Storage;

/// <summary>Received card callbacks: the deduplication index, the recorded answers, and each card's history.</summary>
public interface ICallbackStore
{
    /// <summary>Records a callback as received; false when one with the same id is already recorded (a redelivery).</summary>
    Task<bool> TryAddAsync(CallbackRecord callback, CancellationToken cancellationToken);

    /// <summary>Records how the callback ended and what was answered.</summary>
    Task CompleteAsync(string callbackId, CallbackOutcome outcome, string? handler, string answerJson, CancellationToken cancellationToken);

    /// <summary>
    /// The callback; while it is still <see cref="CallbackOutcome.Pending"/>, or not committed yet (claimed in a
    /// transaction still open), waits up to <paramref name="maxWait"/> for its outcome.
    /// </summary>
    Task<CallbackRecord?> FindAsync(string callbackId, TimeSpan maxWait, CancellationToken cancellationToken);

    /// <summary>The card's most recent callbacks, oldest first.</summary>
    Task<IReadOnlyList<CallbackRecord>> ForCardAsync(string cardId, CancellationToken cancellationToken);

    /// <summary>
    /// A page of the card's callbacks — every card's when <paramref name="cardId"/> is null —, newest first (ordered by
    /// receipt time, then id: stable across pages when two share a millisecond), with the cursor to the next page when
    /// there are older ones.
    /// </summary>
    Task<CallbackPage> HistoryAsync(string? cardId, CallbackHistoryQuery query, CancellationToken cancellationToken);

    /// <summary>
    /// The <see cref="CallbackOutcome.Unhandled"/> callbacks received at or after <paramref name="since"/>, grouped by what a
    /// handler is chosen by (<see cref="UnhandledActionGroup"/>), the most clicked first: up to <paramref name="limit"/>
    /// groups, and whether there are more.
    /// </summary>
    Task<(IReadOnlyList<UnhandledActionGroup> Groups, bool More)> UnhandledAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken);
}
