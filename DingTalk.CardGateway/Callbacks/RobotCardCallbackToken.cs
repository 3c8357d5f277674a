using System.Security.Cryptography;
using Microsoft.AspNetCore.WebUtilities;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// DingTalk documents no signature for normal robot-card callbacks, so the gateway authenticates the URL itself:
/// the card's <c>callbackUrl</c> ends in Base64Url(HMAC-SHA256(ApiSecret, "robot-card-callback\n" + cardBizId)).
/// </summary>
/// <remarks>
/// The advanced-card signature is HMAC-SHA256(ApiSecret, timestamp) under the same secret. Without the prefix, the token
/// of a card whose id is a millisecond timestamp (an id an operator may well choose) would be a valid signature of any
/// advanced-card callback at that time, and a signature seen on one would open that card's URL. Tokens minted before the
/// prefix (<see cref="TokenCheck.Legacy"/>) are still accepted for ids that cannot be the time of a signature, so cards
/// DingTalk already holds keep working; for the others they are refused (<see cref="TokenCheck.LegacyForTimestampId"/>).
/// </remarks>
public static class RobotCardCallbackToken
{
    public const string RoutePrefix = "/dingtalk/callbacks/robot-card/";
    private const string Domain = "robot-card-callback\n";
    private const int MacLength = 32;

    public static string Mint(string cardBizId, string apiSecret)
    {
        Span<byte> mac = stackalloc byte[MacLength];
        CallbackSignatureMath.Compute(Domain + cardBizId, "", apiSecret, mac);
        return WebEncoders.Base64UrlEncode(mac);
    }

    public static TokenCheck Verify(string cardBizId, string token, string apiSecret)
    {
        Span<byte> given = stackalloc byte[MacLength];
        if (token.Length != 43 || !TryDecode(token, given))
        {
            return TokenCheck.Mismatch;
        }

        Span<byte> expected = stackalloc byte[MacLength];
        CallbackSignatureMath.Compute(Domain + cardBizId, "", apiSecret, expected);
        if (CryptographicOperations.FixedTimeEquals(expected, given))
        {
            return TokenCheck.Valid;
        }

        CallbackSignatureMath.Compute(cardBizId, "", apiSecret, expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, given))
        {
            return TokenCheck.Mismatch;
        }

        return ReadsAsSigningTime(cardBizId) ? TokenCheck.LegacyForTimestampId : TokenCheck.Legacy;
    }

    /// <summary>
    /// Under <paramref name="apiSecret"/> first; only when the token was not minted under it, under each of
    /// <paramref name="previousApiSecrets"/> in turn: a card keeps the URL it was sent with for as long as it is in the
    /// chat, so a token minted before a rotation stays valid while its secret is listed. <paramref name="previous"/> is the
    /// index of the previous secret the token was minted under, or -1.
    /// </summary>
    public static TokenCheck Verify(string cardBizId, string token, string apiSecret, IReadOnlyList<string> previousApiSecrets, out int previous)
    {
        previous = -1;
        var check = Verify(cardBizId, token, apiSecret);
        for (var i = 0; check == TokenCheck.Mismatch && i < previousApiSecrets.Count; i++)
        {
            check = Verify(cardBizId, token, previousApiSecrets[i]);
            previous = check == TokenCheck.Mismatch ? -1 : i;
        }

        return check;
    }

    /// <summary>
    /// An id that DingTalk could have signed a callback at: epoch milliseconds since 2015 (before DingTalk's card APIs).
    /// A shorter number (an order number, "42") reads as a moment in 1970 that no signature window reaches.
    /// </summary>
    private static bool ReadsAsSigningTime(string cardBizId) =>
        CallbackSignatureMath.TryParseTimestamp(cardBizId, out var at) && at >= SigningEra;

    private static readonly DateTimeOffset SigningEra = new(2015, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static string CallbackUrl(Uri publicBaseUrl, string cardBizId, string apiSecret) =>
        $"{publicBaseUrl.ToString().TrimEnd('/')}{RoutePrefix}{Mint(cardBizId, apiSecret)}";

    private static bool TryDecode(string token, Span<byte> mac)
    {
        try
        {
            var bytes = WebEncoders.Base64UrlDecode(token);
            if (bytes.Length != MacLength)
            {
                return false;
            }

            bytes.CopyTo(mac);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
