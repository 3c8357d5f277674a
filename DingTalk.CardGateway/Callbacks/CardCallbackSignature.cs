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

    /// <summary>
    /// Under <paramref name="apiSecret"/> first; only when the signature does not match it, under each of
    /// <paramref name="previousApiSecrets"/> in turn (a rotation under way: DingTalk may still sign with one of them).
    /// <paramref name="previous"/> is the index of the previous secret the signature matched, or -1.
    /// </summary>
    public static SignatureCheck Verify(
        string? timestamp, string? signature, string apiSecret, IReadOnlyList<string> previousApiSecrets, DateTimeOffset now, TimeSpan window, out int previous)
    {
        previous = -1;
        var check = Verify(timestamp, signature, apiSecret, now, window);
        for (var i = 0; check == SignatureCheck.Mismatch && i < previousApiSecrets.Count; i++)
        {
            check = Verify(timestamp, signature, previousApiSecrets[i], now, window);
            previous = check == SignatureCheck.Mismatch ? -1 : i;
        }

        return check;
    }

    /// <summary>What DingTalk would send for <paramref name="timestamp"/> (tests, the bench, the sandbox).</summary>
    public static string Sign(string timestamp, string apiSecret) => CallbackSignatureMath.Sign(timestamp, "", apiSecret);

    public static string Sign(DateTimeOffset at, string apiSecret) =>
        Sign(at.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture), apiSecret);
}
