namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// DingTalk's advanced-card callback signature: header <c>x-ddpaas-signature</c> =
/// Base64(HMAC-SHA256(key = apiSecret, message = the <c>x-ddpaas-signature-timestamp</c> string)).
/// The body is not covered, which is why the timestamp window matters.
/// </summary>
public static class CardCallbackSignature
{
    public const string TimestampHeader = "x-ddpaas-signature-timestamp";
    public const string SignatureHeader = "x-ddpaas-signature";

    public static SignatureCheck Verify(string? timestamp, string? signature, string apiSecret, DateTimeOffset now, TimeSpan window) =>
        CallbackSignatureMath.Verify(timestamp, signature, "", apiSecret, now, window);

    /// <summary>What DingTalk would send for <paramref name="timestamp"/> (tests, the bench, the sandbox).</summary>
    public static string Sign(string timestamp, string apiSecret) => CallbackSignatureMath.Sign(timestamp, "", apiSecret);

    public static string Sign(DateTimeOffset at, string apiSecret) =>
        Sign(at.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture), apiSecret);
}
