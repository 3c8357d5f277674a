using System.Security.Cryptography;
using System.Text;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// SHA-256 and HMAC-SHA256 kept per thread and reused through <see cref="IncrementalHash.GetHashAndReset(Span{byte})"/>:
/// creating one (an OpenSSL context, and for the HMAC the key's own two blocks) cost more than hashing what a callback
/// hashes — a timestamp, a card id, the callback's identity. Use one synchronously, from the first AppendData to
/// GetHashAndReset; should anything between them throw, call <see cref="Discard"/>, since the thread's instance may
/// then hold part of a message.
/// </summary>
internal static class ThreadHashes
{
    [ThreadStatic]
    private static IncrementalHash? t_sha256;

    [ThreadStatic]
    private static IncrementalHash? t_hmac;

    [ThreadStatic]
    private static string? t_hmacSecret;

    public static IncrementalHash Sha256() => t_sha256 ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    /// <summary>The thread's HMAC-SHA256, keyed with <paramref name="secret"/>: rekeyed when it last served another one (a rotation, or the robot scheme's AppSecret).</summary>
    public static IncrementalHash HmacSha256(string secret)
    {
        if (t_hmac is { } hmac && string.Equals(t_hmacSecret, secret, StringComparison.Ordinal))
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

        t_hmacSecret = secret;
        return t_hmac;
    }

    /// <summary>Drops the thread's instances: the next use starts from fresh ones.</summary>
    public static void Discard()
    {
        t_sha256?.Dispose();
        t_sha256 = null;
        t_hmac?.Dispose();
        t_hmac = null;
        t_hmacSecret = null;
    }
}
