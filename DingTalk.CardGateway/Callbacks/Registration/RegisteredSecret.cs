namespace DingTalk.CardGateway.Callbacks.Registration;

/// <summary>Which of this gateway's secrets DingTalk says a route key is registered with (never the secret itself).</summary>
internal enum RegisteredSecret
{
    /// <summary>DingTalk's answer did not carry the apiSecret.</summary>
    Unsaid,

    /// <summary><c>DingTalk:Callback:ApiSecret</c>.</summary>
    Current,

    /// <summary>One of <c>DingTalk:Callback:PreviousApiSecrets</c>: ours, being rotated.</summary>
    Previous,

    /// <summary>None of ours: another deployment's, or one this deployment no longer lists.</summary>
    Other,
}
