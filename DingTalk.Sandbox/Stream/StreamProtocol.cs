namespace DingTalk.Sandbox.Stream;

/// <summary>The names DingTalk's Stream mode uses on the wire (frame types, topics, paths).</summary>
public static class StreamProtocol
{
    /// <summary>POST here (no access token) to get a WebSocket endpoint and a single-use ticket.</summary>
    public const string OpenConnectionPath = "/v1.0/gateway/connections/open";

    /// <summary>The sandbox's WebSocket endpoint, after the mount prefix.</summary>
    public const string ConnectPath = "/connect";

    public const string System = "SYSTEM";
    public const string Event = "EVENT";
    public const string Callback = "CALLBACK";

    public const string PingTopic = "ping";
    public const string DisconnectTopic = "disconnect";

    /// <summary>The topic advanced-card callbacks arrive on (cards created with <c>callbackType: STREAM</c>).</summary>
    public const string CardCallbackTopic = "/v1.0/card/instances/callback";
}
