using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace DingTalk.CardGateway.Storage;

/// <summary>
/// Where a page of a card's callbacks ended: the last callback's receipt time and id. Newest first, callbacks order by
/// both, so two callbacks of the same millisecond are neither skipped nor shown twice across pages. Written as an
/// opaque token (Base64url), the <c>next</c> a caller hands back as <c>before</c>.
/// </summary>
public readonly record struct CallbackCursor(long ReceivedAtMs, string CallbackId)
{
    /// <summary>
    /// The longest callback id looked up: the gateway's are up to 42 characters (a signed HTTP delivery's timestamp, a
    /// dot and 22 Base64url characters of a hash; a Stream callback's hash alone).
    /// </summary>
    public const int MaxIdLength = 128;

    private const int MaxTokenLength = 256;
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static CallbackCursor Of(CallbackRecord callback) => new(callback.ReceivedAt.ToUnixTimeMilliseconds(), callback.CallbackId);

    public string Encode() =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{ReceivedAtMs}:{CallbackId}")));

    /// <summary>A token <see cref="Encode"/> wrote; false for anything else (so a caller's garbage is a 400, not a query).</summary>
    public static bool TryDecode(string token, out CallbackCursor cursor)
    {
        cursor = default;
        if (token.Length is 0 or > MaxTokenLength || !Base64Url.IsValid(token))
        {
            return false;
        }

        string text;
        try
        {
            text = Strict.GetString(Base64Url.DecodeFromChars(token));
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0
            || !long.TryParse(text.AsSpan(0, colon), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var at)
            || !IsId(text.AsSpan(colon + 1)))
        {
            return false;
        }

        cursor = new CallbackCursor(at, text[(colon + 1)..]);
        return true;
    }

    /// <summary>What may be a callback id: 1 to <see cref="MaxIdLength"/> characters, none a control character.</summary>
    public static bool IsId(ReadOnlySpan<char> id) =>
        id.Length is > 0 and <= MaxIdLength && !id.ContainsAnyInRange('\0', '\u001f') && !id.Contains('\u007f');
}
