namespace DingTalk.CardGateway.Callbacks.Registration;

public enum CallbackRegistrationState
{
    /// <summary>Stream mode, or <c>RegisterOnStartup</c> off: someone else registers, or nobody needs to.</summary>
    NotRequired,

    Pending,

    Registered,

    /// <summary>Another deployment owns the route key: this gateway gets no HTTP callbacks. Not retried.</summary>
    Conflict,

    /// <summary>DingTalk unreachable or refusing: retried with backoff.</summary>
    Failing,
}
