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

    /// <summary>
    /// Why a well-formed timestamp was refused as stale, for the caller: by how much and which way it is off, or that it
    /// looks like epoch seconds (DingTalk signs with milliseconds: ten digits read as milliseconds fall in January 1970).
    /// </summary>
    public static string StaleSentence(string subject, string timestamp, DateTimeOffset now, TimeSpan window)
    {
        if (timestamp.Length <= 10)
        {
            return $"{subject} {timestamp} looks like epoch seconds; DingTalk signs with epoch milliseconds (13 digits).";
        }

        if (FinerThanMilliseconds(subject, timestamp) is { } finer)
        {
            return finer;
        }

        var skew = TryParseTimestamp(timestamp, out var signedAt) ? (long)Math.Round((now - signedAt).TotalSeconds) : 0;
        var accepted = window.TotalHours >= 1 && window.TotalHours % 1 == 0 ? $"{window.TotalHours:0} h" : $"{window.TotalSeconds:0} s";
        return $"{subject} is {Math.Abs(skew).ToString(CultureInfo.InvariantCulture)} s {(skew >= 0 ? "behind" : "ahead of")} this gateway's clock; "
            + $"at most {accepted} either way is accepted (check both clocks).";
    }

    /// <summary>
    /// Why a timestamp of 14 to 16 digits was refused (unreadable past 15, decades ahead below): epoch milliseconds have
    /// 13 digits, microseconds 16. Null for any other timestamp.
    /// </summary>
    public static string? FinerThanMilliseconds(string subject, string timestamp) =>
        timestamp.Length is >= 14 and <= 16 && timestamp.All(char.IsAsciiDigit)
            ? $"{subject} {timestamp} has {timestamp.Length} digits: it looks finer than epoch milliseconds (microseconds have 16); DingTalk signs with epoch milliseconds (13 digits)."
            : null;

    /// <summary>
    /// The MAC over <paramref name="message"/> followed by <paramref name="suffix"/> (empty but for the robot scheme), on
    /// the thread's HMAC (<see cref="ThreadHashes"/>): a callback pays for its message's blocks, not for a new context
    /// and the key's.
    /// </summary>
    public static void Compute(string message, string suffix, string secret, Span<byte> mac)
    {
        var messageLength = Encoding.UTF8.GetByteCount(message) + Encoding.UTF8.GetByteCount(suffix);
        byte[]? rented = null;
        Span<byte> bytes = messageLength <= StackLimit
            ? stackalloc byte[StackLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(messageLength));
        try
        {
            var written = Encoding.UTF8.GetBytes(message, bytes);
            written += Encoding.UTF8.GetBytes(suffix, bytes[written..]);
            var hmac = ThreadHashes.HmacSha256(secret);
            try
            {
                hmac.AppendData(bytes[..written]);
                hmac.GetHashAndReset(mac);
            }
            catch
            {
                ThreadHashes.Discard();
                throw;
            }
        }
        finally
        {
            // The suffix may be the secret itself (the robot scheme).
            CryptographicOperations.ZeroMemory(bytes[..Math.Min(bytes.Length, messageLength)]);
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
