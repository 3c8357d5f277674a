using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>What both DingTalk signature schemes share: Base64(HMAC-SHA256(secret, message)) over a ms timestamp.</summary>
internal static class CallbackSignatureMath
{
    private const int MacLength = 32;
    private const int StackLimit = 512;

    /// <summary>Epoch milliseconds, digits only (no sign, no spaces), within what a DateTimeOffset can hold.</summary>
    public static bool TryParseTimestamp(string timestamp, out DateTimeOffset at)
    {
        at = default;
        if (timestamp.Length is 0 or > 16
            || !long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            || ms > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
        {
            return false;
        }

        at = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        return true;
    }

    /// <summary>The MAC over <paramref name="timestamp"/> followed by <paramref name="suffix"/> (empty for the card scheme).</summary>
    /// <remarks>
    /// Each thread keeps an HMAC keyed with the last secret it used, so a callback pays for the message's two blocks
    /// only, not for a new OpenSSL context and the key's own two (HMACSHA256.HashData builds both every time).
    /// </remarks>
    public static void Compute(string timestamp, string suffix, string secret, Span<byte> mac)
    {
        var messageLength = Encoding.UTF8.GetByteCount(timestamp) + Encoding.UTF8.GetByteCount(suffix);
        byte[]? rented = null;
        Span<byte> message = messageLength <= StackLimit
            ? stackalloc byte[StackLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(messageLength));
        try
        {
            var written = Encoding.UTF8.GetBytes(timestamp, message);
            written += Encoding.UTF8.GetBytes(suffix, message[written..]);
            var hmac = KeyedHmac.For(secret);
            hmac.AppendData(message[..written]);
            hmac.GetHashAndReset(mac);
        }
        finally
        {
            // The suffix may be the secret itself (the robot scheme).
            CryptographicOperations.ZeroMemory(message[..Math.Min(message.Length, messageLength)]);
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    public static string Sign(string timestamp, string suffix, string secret)
    {
        Span<byte> mac = stackalloc byte[MacLength];
        Compute(timestamp, suffix, secret, mac);
        return Convert.ToBase64String(mac);
    }

    public static SignatureCheck Verify(string? timestamp, string? signature, string suffix, string secret, DateTimeOffset now, TimeSpan window)
    {
        if (string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signature))
        {
            return SignatureCheck.MissingSignature;
        }

        if (!TryParseTimestamp(timestamp, out var signedAt))
        {
            return SignatureCheck.MalformedTimestamp;
        }

        Span<byte> expected = stackalloc byte[MacLength];
        Compute(timestamp, suffix, secret, expected);
        Span<byte> given = stackalloc byte[MacLength + 3];
        if (signature.Length > 64
            || !Convert.TryFromBase64String(signature, given, out var length)
            || !CryptographicOperations.FixedTimeEquals(expected, given[..length]))
        {
            return SignatureCheck.Mismatch;
        }

        // Checked after the MAC, so "Stale" always means a genuine but old (or future) delivery: a clock problem.
        return (now - signedAt).Duration() > window ? SignatureCheck.Stale : SignatureCheck.Valid;
    }

    /// <summary>A thread's HMAC-SHA256, keyed with the secret it last used (a new secret, as after a rotation, rekeys it).</summary>
    private static class KeyedHmac
    {
        [ThreadStatic]
        private static IncrementalHash? t_hmac;

        [ThreadStatic]
        private static string? t_secret;

        public static IncrementalHash For(string secret)
        {
            if (t_hmac is { } hmac && string.Equals(t_secret, secret, StringComparison.Ordinal))
            {
                return hmac;
            }

            t_hmac?.Dispose();
            t_hmac = null;
            var key = Encoding.UTF8.GetBytes(secret);
            try
            {
                t_hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(key);
            }

            t_secret = secret;
            return t_hmac;
        }
    }
}
