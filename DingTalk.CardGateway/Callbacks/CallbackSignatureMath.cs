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
    public static void Compute(string timestamp, string suffix, string secret, Span<byte> mac)
    {
        var messageLength = Encoding.UTF8.GetByteCount(timestamp) + Encoding.UTF8.GetByteCount(suffix);
        var keyLength = Encoding.UTF8.GetByteCount(secret);
        byte[]? rented = null;
        Span<byte> buffer = messageLength + keyLength <= StackLimit
            ? stackalloc byte[StackLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(messageLength + keyLength));
        try
        {
            var key = buffer[..Encoding.UTF8.GetBytes(secret, buffer)];
            var message = buffer.Slice(keyLength, messageLength);
            var written = Encoding.UTF8.GetBytes(timestamp, message);
            Encoding.UTF8.GetBytes(suffix, message[written..]);
            HMACSHA256.HashData(key, message, mac);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer[..Math.Min(buffer.Length, messageLength + keyLength)]);
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
}
