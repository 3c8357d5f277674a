using System.ComponentModel.DataAnnotations;
using DingTalk.CardGateway.Stream;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Hosting;

/// <summary>Whether the gateway talks to real DingTalk or to its built-in emulator.</summary>
public enum GatewayMode
{
    /// <summary>Real DingTalk: credentials are required.</summary>
    Live,

    /// <summary>The built-in DingTalk emulator under <c>/sandbox</c>; the default when AppKey, AppSecret and the callback's secrets are all empty.</summary>
    Sandbox,
}

/// <summary>The <c>DingTalk</c> configuration section.</summary>
public sealed class DingTalkOptions
{
    public const string Section = "DingTalk";

    public string? AppKey { get; set; }

    public string? AppSecret { get; set; }

    /// <summary>Robot that delivers cards; defaults to <see cref="AppKey"/>.</summary>
    public string? RobotCode { get; set; }

    public Uri ApiBaseUrl { get; set; } = new("https://api.dingtalk.com");

    /// <summary>Null means: Sandbox when <see cref="AppKey"/>, <see cref="AppSecret"/> and the callback's secrets are all empty, else Live.</summary>
    public GatewayMode? Mode { get; set; }

    [ValidateObjectMembers]
    public CallbackOptions Callback { get; set; } = new();

    [ValidateObjectMembers]
    public StreamOptions Stream { get; set; } = new();

    [ValidateObjectMembers]
    public OutboundOptions Outbound { get; set; } = new();

    /// <remarks>
    /// Any of DingTalk's secrets without an AppKey is a Live deployment whose AppKey is missing (a misspelt variable, a
    /// secret not mounted), told so at startup: as Sandbox mode it ran healthy on the emulator and showed that secret,
    /// unauthenticated, under /sandbox. Sandbox mode with a callback secret of one's own is asked for by name (<see cref="Mode"/>).
    /// </remarks>
    public GatewayMode EffectiveMode => Mode
        ?? (string.IsNullOrWhiteSpace(AppKey) && string.IsNullOrWhiteSpace(AppSecret) && string.IsNullOrWhiteSpace(Callback.ApiSecret)
            && Callback.PreviousApiSecrets.Count == 0
            ? GatewayMode.Sandbox
            : GatewayMode.Live);

    public string EffectiveRobotCode => string.IsNullOrWhiteSpace(RobotCode) ? AppKey ?? "" : RobotCode;
}

public sealed class CallbackOptions
{
    /// <summary>The public URL DingTalk reaches the gateway at, e.g. <c>https://cards.example.com</c>.</summary>
    public Uri? PublicBaseUrl { get; set; }

    public string RouteKey { get; set; } = "card-gateway";

    /// <summary>The secret DingTalk signs advanced-card callbacks with; also keys the robot-card callback tokens.</summary>
    public string? ApiSecret { get; set; }

    /// <summary>
    /// Secrets still accepted for verification while <see cref="ApiSecret"/> is rotated (advanced-card signatures and
    /// robot-card tokens), checked only when <see cref="ApiSecret"/> does not verify; never used to sign, mint or register.
    /// A registration DingTalk keeps under one of them is this deployment's, and is updated to <see cref="ApiSecret"/>.
    /// </summary>
    public List<string> PreviousApiSecrets { get; set; } = [];

    public bool RegisterOnStartup { get; set; } = true;

    public bool ForceUpdate { get; set; }

    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan SignatureWindow { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>How the gateway calls DingTalk's OpenAPI.</summary>
public sealed class OutboundOptions
{
    /// <summary>Client-side limit per DingTalk API (DingTalk allows 20 QPS per app and API).</summary>
    [Range(1, 1000)]
    public int PermitsPerSecondPerApi { get; set; } = 18;

    /// <summary>Calls that may wait for a permit before the limiter refuses.</summary>
    [Range(0, 100_000)]
    public int QueueLimitPerApi { get; set; } = 1000;

    [Range(0, 20)]
    public int MaxRetryAttempts { get; set; } = 4;

    /// <summary>First retry delay; later ones grow exponentially with jitter.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Least wait after DingTalk's 403 QPS throttling answer.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan ThrottleDelay { get; set; } = TimeSpan.FromSeconds(1);

    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    [Range(typeof(TimeSpan), "00:00:01", "00:30:00")]
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Renew the access token this long before DingTalk's <c>expireIn</c> runs out.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan TokenRefreshMargin { get; set; } = TimeSpan.FromMinutes(5);
}
