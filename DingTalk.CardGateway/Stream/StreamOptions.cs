using System.ComponentModel.DataAnnotations;

namespace DingTalk.CardGateway.Stream;

/// <summary>
/// <c>DingTalk:Stream</c>: card callbacks over DingTalk's outbound WebSocket instead of a public URL. The app's
/// AppKey/AppSecret are the connection's clientId/clientSecret.
/// </summary>
public sealed class StreamOptions
{
    /// <summary>Open the Stream connection; cards are then created with <c>callbackType: STREAM</c>.</summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// No frame at all (DingTalk pings regularly) for this long means the connection died silently: replace it.
    /// DingTalk does not publish its ping cadence, so keep this well above it.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// WebSocket-level ping, sent once nothing has arrived for this long; a pong missing for as long again drops the
    /// socket. Zero turns it off.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Frames handled at once, per process: a slot is held until the frame's click is through, a handler that overran its
    /// budget included. Up to four times as many more wait for a slot (past that the socket is not read until one is taken
    /// up); one still waiting when its budget is spent is answered <c>{}</c> then, and handled once a slot frees.
    /// </summary>
    [Range(1, 1024)]
    public int MaxFramesInFlight { get; set; } = 32;

    /// <summary>
    /// How long an answer may take to be written. Past it DingTalk has stopped reading the connection (its frames may still
    /// come, so neither the idle timer nor the keep-alive tells): it is dropped and replaced, and its unanswered frames are
    /// pushed again. A dropped connection's frames still being handled get as long again before its resources go.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan SendTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A larger frame is discarded unanswered (and logged).</summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxFrameBytes { get; set; } = 1024 * 1024;

    /// <summary>First wait before reconnecting after a failure; doubles (with jitter) up to <see cref="BackoffMax"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan BackoffMin { get; set; } = TimeSpan.FromSeconds(1);

    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan BackoffMax { get; set; } = TimeSpan.FromSeconds(60);
}
