namespace DingTalk.CardGateway.Stream;

/// <summary>Where the Stream connection stands, for readiness and for tests.</summary>
public sealed class StreamConnectionStatus
{
    private volatile Snapshot _current = new(StreamConnectionState.Connecting, "The Stream connection has not been opened yet.", DateTimeOffset.MinValue);

    public StreamConnectionState State => _current.State;

    /// <summary>One sentence: where it is connected, or why it is not.</summary>
    public string Detail => _current.Detail;

    /// <summary>When <see cref="State"/> last changed.</summary>
    public DateTimeOffset Since => _current.Since;

    /// <summary>Connections opened so far (the first is 1).</summary>
    public int Connections { get; private set; }

    public void Set(StreamConnectionState state, string detail, DateTimeOffset at) =>
        _current = new Snapshot(state, detail, state == _current.State ? _current.Since : at);

    public void Connected(int number, string detail, DateTimeOffset at)
    {
        Connections = number;
        Set(StreamConnectionState.Connected, detail, at);
    }

    private sealed record Snapshot(StreamConnectionState State, string Detail, DateTimeOffset Since);
}
