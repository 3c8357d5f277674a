namespace DingTalk.CardGateway.Callbacks;

/// <summary>How a card callback reached the gateway.</summary>
public enum CallbackTransport
{
    /// <summary>An advanced card's HTTP callback, signed with the registered apiSecret.</summary>
    Http,

    /// <summary>A normal robot card's callback to the URL minted into it at send time.</summary>
    RobotHttp,

    /// <summary>A CALLBACK frame on DingTalk's Stream (WebSocket) connection.</summary>
    Stream,
}
