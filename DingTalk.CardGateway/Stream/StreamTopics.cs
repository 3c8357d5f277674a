namespace DingTalk.CardGateway.Stream;

/// <summary>Frame types and topics of DingTalk's Stream protocol.</summary>
public static class StreamTopics
{
    public const string System = "SYSTEM";
    public const string Event = "EVENT";
    public const string Callback = "CALLBACK";

    public const string Ping = "ping";
    public const string Disconnect = "disconnect";

    /// <summary>Advanced-card callbacks (cards created with <c>callbackType: STREAM</c>).</summary>
    public const string CardCallback = "/v1.0/card/instances/callback";
}
