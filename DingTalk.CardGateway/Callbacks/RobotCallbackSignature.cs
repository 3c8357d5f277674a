namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// DingTalk's robot scheme: headers <c>timestamp</c> and <c>sign</c> =
/// Base64(HMAC-SHA256(key = appSecret, message = timestamp + "\n" + appSecret)), accepted within one hour.
/// A card callback signed this way is refused: it is a different scheme.
/// </summary>
public static class RobotCallbackSignature
{
    public const string TimestampHeader = "timestamp";
    public const string SignatureHeader = "sign";

    /// <summary>DingTalk rejects robot callbacks older (or newer) than this.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromHours(1);

    public static SignatureCheck Verify(string? timestamp, string? sign, string appSecret, DateTimeOffset now) =>
        CallbackSignatureMath.Verify(timestamp, sign, "\n" + appSecret, appSecret, now, Window);

    public static string Sign(string timestamp, string appSecret) => CallbackSignatureMath.Sign(timestamp, "\n" + appSecret, appSecret);
}
