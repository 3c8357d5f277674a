namespace DingTalk.CardGateway.Stream;

public enum StreamConnectionState
{
    /// <summary><c>DingTalk:Stream:Enabled</c> is off.</summary>
    Disabled,

    /// <summary>The first connection is being opened.</summary>
    Connecting,

    Connected,

    /// <summary>The connection was lost (or never made it) and the next attempt is pending.</summary>
    Reconnecting,
}
