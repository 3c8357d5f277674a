namespace DingTalk.CardGateway.Callbacks.Registration;

/// <summary>Where callback registration stands, for readiness.</summary>
public sealed class CallbackRegistrationStatus
{
    private volatile Snapshot _current = new(CallbackRegistrationState.Pending, "Callback registration has not run yet.");

    public CallbackRegistrationState State => _current.State;

    public string Detail => _current.Detail;

    public void Set(CallbackRegistrationState state, string detail) => _current = new Snapshot(state, detail);

    private sealed record Snapshot(CallbackRegistrationState State, string Detail);
}
