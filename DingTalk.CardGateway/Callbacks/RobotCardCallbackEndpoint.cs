using System.Globalization;
using DingTalk.CardGateway.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// <c>POST /dingtalk/callbacks/robot-card/{token}</c>: a normal robot card's callback. DingTalk documents no
/// signature for it, so the URL carries a token minted for the card (<see cref="RobotCardCallbackToken"/>);
/// DingTalk's robot headers <c>timestamp</c>/<c>sign</c>, when present, are checked too.
/// </summary>
public sealed partial class RobotCardCallbackEndpoint(
    HttpCallbackSlots slots,
    IOptionsMonitor<DingTalkOptions> dingTalk,
    IOptionsMonitor<CallbackHandlingOptions> options,
    GatewayMetrics metrics,
    PreviousSecretUse previousSecretUse,
    TimeProvider clock,
    ILogger<RobotCardCallbackEndpoint> logger)
{
    public const string Path = RobotCardCallbackToken.RoutePrefix + "{token}";
    private const string MetricName = "robot_card";

    public async Task<IResult> HandleAsync(HttpContext http, string token)
    {
        var arrivedAt = clock.GetTimestamp(); // the handler's budget counts from here, as DingTalk's 2 seconds do
        var settings = dingTalk.CurrentValue;
        if (string.IsNullOrEmpty(settings.Callback.ApiSecret))
        {
            return Refused(http, "NoApiSecret", "Robot-card callbacks are off: DingTalk:Callback:ApiSecret, which keys their URL tokens, is not set.");
        }

        var body = await CallbackBody.ReadAsync(http.Request, options.CurrentValue.MaxBodyBytes, http.RequestAborted);
        if (body.Problem is { } unreadable)
        {
            Log.BodyRefused(logger, unreadable.StatusCode, unreadable.ProblemDetails.Detail!);
            metrics.Refused(MetricName, body.Reason!);
            return unreadable;
        }

        var timestamp = http.Request.Headers[RobotCallbackSignature.TimestampHeader].ToString();
        // DingTalk gives these callbacks no delivery id, and usually no timestamp header: without one, a POST is a click of
        // its own (stamped with when it came and a random number), never taken for a redelivery of the same user's same
        // click days earlier (a vote for A, then B, then A again). With the header, identical deliveries are one.
        var stamp = timestamp.Length > 0
            ? timestamp
            : clock.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) + Random.Shared.Next(1_000_000).ToString("D6", CultureInfo.InvariantCulture);
        if (!CardActionParser.TryParse(body.Bytes, CallbackTransport.RobotHttp, stamp, out var action, out var problem))
        {
            Log.BodyRefused(logger, StatusCodes.Status400BadRequest, problem);
            metrics.Refused(MetricName, "MalformedBody");
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Malformed card callback", detail: problem);
        }

        switch (RobotCardCallbackToken.Verify(action.CardId, token, settings.Callback.ApiSecret, settings.Callback.PreviousApiSecrets, out var previous))
        {
            case TokenCheck.Mismatch:
                return Refused(
                    http,
                    "TokenMismatch",
                    "The token in the callback URL was not minted for the card this body names.",
                    action.CardId,
                    $" It was minted neither under DingTalk:Callback:ApiSecret nor under {(settings.Callback.PreviousApiSecrets.Count > 0 ? "any of" : "one listed in")} DingTalk:Callback:PreviousApiSecrets"
                    + " for this card: a card this gateway sent keeps its URL for life, so if ApiSecret changed since it was sent, list the old secret in DingTalk:Callback:PreviousApiSecrets, or send the card again (a new URL is minted); else the URL was not this card's.");
            case TokenCheck.LegacyForTimestampId:
                Log.LegacyTokenRefused(logger, action.CardId);
                return Refused(http, "LegacyToken", "The token in the callback URL was minted by an older gateway for a card id that reads as a millisecond timestamp, which such tokens no longer open: send the card again.", action.CardId);
        }

        var sign = http.Request.Headers[RobotCallbackSignature.SignatureHeader].ToString();
        var now = clock.GetUtcNow();
        if ((timestamp.Length > 0 || sign.Length > 0)
            && RobotCallbackSignature.Verify(timestamp, sign, settings.AppSecret ?? "", now) is var check and not SignatureCheck.Valid)
        {
            var detail = check switch
            {
                SignatureCheck.MissingSignature => "Give both robot headers timestamp and sign, or neither.",
                SignatureCheck.MalformedTimestamp => CallbackSignatureMath.FinerThanMilliseconds("The timestamp header", timestamp)
                    ?? "The timestamp header must be epoch milliseconds.",
                SignatureCheck.Stale => CallbackSignatureMath.StaleSentence("The timestamp header", timestamp, now, RobotCallbackSignature.Window),
                _ => "The sign header does not match: it must be Base64(HMAC-SHA256(appSecret, timestamp + \"\\n\" + appSecret)).",
            };
            return Refused(http, check.ToString(), detail, action.CardId, check == SignatureCheck.Mismatch ? SignMismatchHint(timestamp, sign, settings, now) : "");
        }

        if (previous >= 0 && previousSecretUse.Count(MetricName, previous) is { } clicks)
        {
            Log.VerifiedUnderPreviousSecret(logger, previous, clicks, action.CardId);
        }

        return await slots.AnswerAsync(http, action, arrivedAt, MetricName);
    }

    /// <summary>
    /// For the operator's log only: which setting the robot <c>sign</c> is checked against, and whether it was made with the
    /// other secret (the same mix-up as on the card route, the other way round) — never either secret.
    /// </summary>
    private static string SignMismatchHint(string timestamp, string sign, DingTalkOptions settings, DateTimeOffset now) =>
        RobotCallbackSignature.Verify(timestamp, sign, settings.Callback.ApiSecret!, now).IsMadeWithTheSecret()
            ? " It is signed with DingTalk:Callback:ApiSecret, not DingTalk:AppSecret: DingTalk signs the robot headers with the app's secret."
            : " It is checked against DingTalk:AppSecret, the app's secret DingTalk signs the robot headers with: if it was reset in DingTalk's developer console, restart the gateway with the new one.";

    /// <summary>
    /// A 401 saying why; the log says the same, since DingTalk reads no answer and the operator reads the log, with the
    /// card the body names (null: not read yet) and, for the log only, <paramref name="hint"/>.
    /// </summary>
    private ProblemHttpResult Refused(HttpContext http, string reason, string detail, string? cardBizId = null, string hint = "")
    {
        Log.Refused(logger, reason, cardBizId is null ? "card not read" : "card " + cardBizId, cardBizId, http.Connection.RemoteIpAddress?.ToString(), detail, hint);
        metrics.Refused(MetricName, reason);
        return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Callback rejected", detail: detail);
    }

    private static partial class Log
    {
        // The card is a property for JSON (CardBizId, null when the body was not read) and words for the text log.
        [LoggerMessage(3011, LogLevel.Warning, "Robot-card callback refused: {Check} ({Card:l}) from {RemoteIp}: {Detail:l}{Hint:l}")]
        public static partial void Refused(ILogger logger, string check, string card, [TagName("CardBizId")] string? cardBizId, string? remoteIp, string detail, string hint);

        [LoggerMessage(3012, LogLevel.Warning, "Robot-card callback refused with {Status}: {Problem}")]
        public static partial void BodyRefused(ILogger logger, int status, string problem);

        [LoggerMessage(3013, LogLevel.Warning, "Robot card {CardBizId}: its callback URL carries a token minted before tokens had their own prefix, and its id reads as a millisecond timestamp, so that token would also be a valid advanced-card callback signature; refused. Send the card again (a new callbackUrl is minted) to make its buttons work")]
        public static partial void LegacyTokenRefused(ILogger logger, string cardBizId);

        [LoggerMessage(3122, LogLevel.Information, "Robot-card callbacks whose URL token was minted under DingTalk:Callback:PreviousApiSecrets:{PreviousIndex}, not DingTalk:Callback:ApiSecret: {Clicks} since this was last said (at most once an hour), the last on card {CardBizId}. A robot card keeps the URL it was sent with for as long as it is in the chat: drop that secret from the list only when cards sent before the rotation need no longer answer clicks (sending such a card again mints it a new URL)")]
        public static partial void VerifiedUnderPreviousSecret(ILogger logger, int previousIndex, long clicks, string cardBizId);
    }
}
