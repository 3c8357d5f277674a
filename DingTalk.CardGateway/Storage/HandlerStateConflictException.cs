namespace DingTalk.CardGateway.Storage;

/// <summary>
/// A handler changed a state, then waited on something else; meanwhile another click changed the same state. Its
/// change and its result rest on a state that is no longer there, so nothing it did is kept: it runs again on the new
/// state (<c>Gateway:Callbacks:ConflictRetries</c>), or, those spent, the callback counts as failed and the clicker gets
/// <c>{}</c>. (On PostgreSQL the other click would have waited for this one instead.)
/// </summary>
public sealed class HandlerStateConflictException(string state)
    : Exception($"The handler state '{state}' was changed by another click while this handler waited; its change was not kept.")
{
    public string State { get; } = state;
}
