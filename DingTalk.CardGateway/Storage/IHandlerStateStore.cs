namespace DingTalk.CardGateway.Storage;

/// <summary>
/// The state a card handler keeps per card (a poll's votes, an approval's decision). States are immutable,
/// JSON-serializable records; every change is an atomic read-modify-write. Never change a state object in place: on
/// SQLite the store keeps the very instance it returned, and the next callback gets it again.
/// </summary>
public interface IHandlerStateStore
{
    Task<TState?> GetAsync<TState>(string handler, string cardId, CancellationToken cancellationToken)
        where TState : class;

    /// <summary>
    /// Replaces the state with <paramref name="change"/>(current, null when none) atomically and returns the new state.
    /// <paramref name="change"/> may run more than once under contention, so it must be pure.
    /// </summary>
    Task<TState> UpdateAsync<TState>(string handler, string cardId, Func<TState?, TState> change, CancellationToken cancellationToken)
        where TState : class;
}
