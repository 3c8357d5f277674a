using System.Security.Cryptography;
using Microsoft.AspNetCore.WebUtilities;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// DingTalk documents no signature for normal robot-card callbacks, so the gateway authenticates the URL itself:
/// the card's <c>callbackUrl</c> ends in Base64Url(HMAC-SHA256(ApiSecret, cardBizId)).
/// </summary>
public static class RobotCardCallbackToken
{
    public const string RoutePrefix = "/dingtalk/callbacks/robot-card/";

    public static string Mint(string cardBizId, string apiSecret)
    {
        Span<byte> mac = stackalloc byte[32];
        CallbackSignatureMath.Compute(cardBizId, "", apiSecret, mac);
        return WebEncoders.Base64UrlEncode(mac);
    }

    public static bool Verify(string cardBizId, string token, string apiSecret)
    {
        Span<byte> expected = stackalloc byte[32];
        CallbackSignatureMath.Compute(cardBizId, "", apiSecret, expected);
        byte[] given;
        try
        {
            given = WebEncoders.Base64UrlDecode(token);
        }
        catch (FormatException)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    public static string CallbackUrl(Uri publicBaseUrl, string cardBizId, string apiSecret) =>
        $"{publicBaseUrl.ToString().TrimEnd('/')}{RoutePrefix}{Mint(cardBizId, apiSecret)}";
}
