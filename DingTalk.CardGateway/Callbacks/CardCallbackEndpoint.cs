using DingTalk.CardGateway.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// <c>POST /dingtalk/callbacks/card</c>: an advanced card's HTTP callback. Signature first (before the body is
/// read), then the body, then the one <see cref="CallbackPipeline"/>.
/// </summary>
public sealed partial class CardCallbackEndpoint(
    HttpCallbackSlots slots,
    IOptionsMonitor<DingTalkOptions> dingTalk,
    IOptionsMonitor<CallbackHandlingOptions> options,
    GatewayMetrics metrics,
    PreviousSecretUse previousSecretUse,
    TimeProvider clock,
    ILogger<CardCallbackEndpoint> logger)
{
    public const string Path = "/dingtalk/callbacks/card";
    private const string MetricName = "card";

    public async Task<IResult> HandleAsync(HttpContext http)
    {
        var arrivedAt = clock.GetTimestamp(); // the handler's budget counts from here, as DingTalk's 2 seconds do
        var request = http.Request;
        var timestamp = request.Headers[CardCallbackSignature.TimestampHeader].ToString();
        if (Verify(http, timestamp) is { } refused)
        {
            return refused;
        }

        var body = await CallbackBody.ReadAsync(request, options.CurrentValue.MaxBodyBytes, http.RequestAborted);
        if (body.Problem is { } unreadable)
        {
            Log.BodyRefused(logger, unreadable.StatusCode, unreadable.ProblemDetails.Detail!);
            metrics.Refused(MetricName, body.Reason!);
            return unreadable;
        }

        if (!CardActionParser.TryParse(body.Bytes, CallbackTransport.Http, timestamp, out var action, out var problem))
        {
            Log.BodyRefused(logger, StatusCodes.Status400BadRequest, problem);
            metrics.Refused(MetricName, "MalformedBody");
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Malformed card callback", detail: problem);
        }

        return await slots.AnswerAsync(http, action, arrivedAt, MetricName);
    }

    private ProblemHttpResult? Verify(HttpContext http, string timestamp)
    {
        var settings = dingTalk.CurrentValue.Callback;
        if (string.IsNullOrEmpty(settings.ApiSecret))
        {
            Log.NoSecret(logger);
            metrics.Refused(MetricName, "NoApiSecret");
            return Unauthorized("HTTP card callbacks are off: DingTalk:Callback:ApiSecret is not set, so no callback can be verified.");
        }

        var signature = http.Request.Headers[CardCallbackSignature.SignatureHeader].ToString();
        var now = clock.GetUtcNow();
        var check = CardCallbackSignature.Verify(timestamp, signature, settings.ApiSecret, settings.PreviousApiSecrets, now, settings.SignatureWindow, out var previous);
        if (check == SignatureCheck.Valid)
        {
            if (previous >= 0 && previousSecretUse.Count(MetricName, previous) is { } clicks)
            {
                Log.VerifiedUnderPreviousSecret(logger, previous, clicks);
            }

            return null;
        }

        // The robot scheme (timestamp + "\n" + secret) is a different one; say so, since it is an easy mix-up: keyed with the
        // ApiSecret, or with the AppSecret as DingTalk's robot messages are (a robot-message signer reused).
        var robotStyle = check == SignatureCheck.Mismatch
            && (RobotCallbackSignature.Verify(timestamp, signature, settings.ApiSecret, now).IsMadeWithTheSecret()
                || (!string.IsNullOrEmpty(dingTalk.CurrentValue.AppSecret)
                    && RobotCallbackSignature.Verify(timestamp, signature, dingTalk.CurrentValue.AppSecret, now).IsMadeWithTheSecret()));
        var robotHeaders = check == SignatureCheck.MissingSignature && http.Request.Headers.ContainsKey(RobotCallbackSignature.SignatureHeader);
        long? skewSeconds = CallbackSignatureMath.TryParseTimestamp(timestamp, out var signedAt) ? (long)(now - signedAt).TotalSeconds : null;
        var timing = skewSeconds is { } skew
            ? $"skew {skew.ToString(System.Globalization.CultureInfo.InvariantCulture)} s"
            : timestamp.Length == 0 ? "no timestamp" : "timestamp unreadable";
        var reason = robotStyle ? "RobotScheme" : robotHeaders ? "RobotHeaders" : check.ToString();
        var detail = check switch
        {
            _ when robotStyle => "The signature uses the robot-message scheme (timestamp + \"\\n\" + secret); card callbacks are signed over the timestamp alone.",
            _ when robotHeaders => "This endpoint takes DingTalk's card-callback signature (x-ddpaas-signature-timestamp, x-ddpaas-signature), not the robot headers timestamp/sign.",
            SignatureCheck.MissingSignature => $"The {CardCallbackSignature.TimestampHeader} and {CardCallbackSignature.SignatureHeader} headers are required.",
            SignatureCheck.MalformedTimestamp => CallbackSignatureMath.FinerThanMilliseconds("The signature timestamp", timestamp)
                ?? $"{CardCallbackSignature.TimestampHeader} must be epoch milliseconds.",
            SignatureCheck.Stale => CallbackSignatureMath.StaleSentence("The signature timestamp", timestamp, now, settings.SignatureWindow),
            _ => "The signature does not match: it must be Base64(HMAC-SHA256(apiSecret, timestamp)).",
        };
        var hint = check == SignatureCheck.Mismatch && !robotStyle ? MismatchHint(timestamp, signature, now) : "";
        Log.SignatureRejected(logger, reason, timing, skewSeconds, (long)settings.SignatureWindow.TotalSeconds, http.Connection.RemoteIpAddress?.ToString(), detail, hint);
        metrics.Refused(MetricName, reason);
        return Unauthorized(detail);
    }

    /// <summary>
    /// For the operator's log only (DingTalk reads no answer): which setting the signature is checked against and what
    /// DingTalk signs with, since the two secrets are a letter apart; whether it is the AppSecret, the usual mix-up.
    /// </summary>
    private string MismatchHint(string timestamp, string signature, DateTimeOffset now)
    {
        var settings = dingTalk.CurrentValue;
        var routeKey = settings.Callback.RouteKey;
        return !string.IsNullOrEmpty(settings.AppSecret)
            && CardCallbackSignature.Verify(timestamp, signature, settings.AppSecret, now, settings.Callback.SignatureWindow).IsMadeWithTheSecret()
            ? $" It is signed with DingTalk:AppSecret, not DingTalk:Callback:ApiSecret: route key '{routeKey}' was registered with the app's secret as its apiSecret. Register it again with DingTalk:Callback:ApiSecret (DingTalk:Callback:RegisterOnStartup, with ForceUpdate if another URL holds it)."
            : $" It is not signed with DingTalk:Callback:ApiSecret{(settings.Callback.PreviousApiSecrets.Count > 0 ? " nor any of DingTalk:Callback:PreviousApiSecrets" : "")}: DingTalk signs with the apiSecret registered for route key '{routeKey}'. If every click is refused so, that secret and DingTalk:Callback:ApiSecret differ: register again (DingTalk:Callback:RegisterOnStartup) or set the registered one.";
    }

    private static ProblemHttpResult Unauthorized(string detail) => TypedResults.Problem(
        statusCode: StatusCodes.Status401Unauthorized, title: "Callback signature rejected", detail: detail);

    private static partial class Log
    {
        // The skew is a number for JSON (SkewSeconds, null without a readable timestamp) and words for the text log,
        // which would otherwise read "skew null s".
        [LoggerMessage(3001, LogLevel.Warning, "Card callback refused: signature check {Check} ({Timing:l}, window {WindowSeconds} s) from {RemoteIp}: {Detail:l}{Hint:l}")]
        public static partial void SignatureRejected(
            ILogger logger, string check, string timing, [TagName("SkewSeconds")] long? skewSeconds, long windowSeconds, string? remoteIp, string detail, string hint);

        [LoggerMessage(3002, LogLevel.Warning, "Card callback refused: DingTalk:Callback:ApiSecret is not set, so HTTP card callbacks cannot be verified")]
        public static partial void NoSecret(ILogger logger);

        [LoggerMessage(3003, LogLevel.Warning, "Card callback refused with {Status}: {Problem}")]
        public static partial void BodyRefused(ILogger logger, int status, string problem);

        [LoggerMessage(3121, LogLevel.Information, "Card callbacks verified under DingTalk:Callback:PreviousApiSecrets:{PreviousIndex}, not DingTalk:Callback:ApiSecret: {Clicks} since this was last said (at most once an hour). DingTalk still signs with that secret: it is the one registered for the route key (a replica registered it, or clicks signed before the new one was registered are arriving). Keep it listed while this is said")]
        public static partial void VerifiedUnderPreviousSecret(ILogger logger, int previousIndex, long clicks);
    }
}
