namespace DingTalk.Sandbox;

/// <summary>The one app the sandbox knows: its credentials and how long its tokens live.</summary>
public sealed class SandboxOptions
{
    public string AppKey { get; set; } = "sandbox-app-key";

    public string AppSecret { get; set; } = "sandbox-app-secret";

    /// <summary>DingTalk's is 2 hours (<c>expireIn: 7200</c>); asking again inside it renews the same token.</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(2);

    /// <summary>
    /// When above zero, a new streaming frame for a card that arrives sooner than this after the card's last
    /// accepted frame is refused with 403, as DingTalk does below about 500 ms. Off (zero) by default.
    /// </summary>
    public TimeSpan StreamingMinInterval { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// Calls to one API (method and path) in any one second above which the sandbox answers 403
    /// <c>Forbidden.AccessDenied.QpsLimitForAppkeyAndApi</c>, as DingTalk does at 20 a second per app and API; 0 turns
    /// it off. Counted in real time, whatever clock the sandbox's tokens use.
    /// </summary>
    public int QpsLimitPerApi { get; set; } = 20;

    /// <summary>
    /// Requests the log (<see cref="SandboxState.Requests"/>, <c>GET /sandbox/requests</c>) keeps, the newest: in Sandbox
    /// mode the emulator lives in the gateway's process, and a log of every request, bodies included, grew for as long
    /// as it ran.
    /// </summary>
    public int RequestsKept { get; set; } = 10_000;
}
