using DingTalk.CardGateway.Callbacks;

namespace DingTalk.CardGateway.Tests.Callbacks;

public class CardCallbackSignatureTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    /// <summary>Our own card-scheme vectors: Base64(HMAC-SHA256(apiSecret, timestamp)), computed independently with openssl.</summary>
    public static TheoryData<string, string, string> CardSchemeVectors => new()
    {
        { "1577262236757", "this is a secret", "cviWWKk4OPwVpK0VGNkvThhQ7PXwQPYvJhM+/YVA1VI=" },
        { "1700000000000", "SEC1234567890abcdef", "FS/J3mhcr540sIhkR+8jBXqHIX154Fm+NRgzFuJ7cgQ=" },
        { "1735689600000", "test-api-secret-0123456789", "ytaYv7mhOzoifjhMZ/Xx0v8QerD0492pvpSX6ForrP0=" },
        { "1735689600000", "dingxxxxxxxxxxxxxxxx-appsecret-中文", "Bd6xwJjhxyE/+2Zrus796iTJwzyzJNXNQH63JapjYN8=" },
        { "1", "k", "CqIFTYhVbX5d9uVLAGg9roC71CZqXRy8iausv4Vq2GI=" },
    };

    [Theory]
    [MemberData(nameof(CardSchemeVectors))]
    public void Signing_a_timestamp_gives_the_vector(string timestamp, string secret, string signature) =>
        Assert.Equal(signature, CardCallbackSignature.Sign(timestamp, secret));

    [Theory]
    [MemberData(nameof(CardSchemeVectors))]
    public void The_vector_verifies_at_its_own_time(string timestamp, string secret, string signature) =>
        Assert.Equal(SignatureCheck.Valid, CardCallbackSignature.Verify(timestamp, signature, secret, At(timestamp), Window));

    [Fact]
    public void The_robot_scheme_signature_is_a_mismatch_for_a_card_callback()
    {
        const string robotSign = "DJrE6qdyVGCQz9z5r2MDuNcNAhwYnuAkyj13cx169CA="; // published robot vector for the same inputs
        Assert.Equal(SignatureCheck.Mismatch, CardCallbackSignature.Verify("1577262236757", robotSign, "this is a secret", At("1577262236757"), Window));
    }

    [Theory]
    [InlineData(null, "c2ln")]
    [InlineData("", "c2ln")]
    [InlineData("1577262236757", null)]
    [InlineData("1577262236757", "")]
    public void A_missing_header_is_a_missing_signature(string? timestamp, string? signature) =>
        Assert.Equal(SignatureCheck.MissingSignature, CardCallbackSignature.Verify(timestamp, signature, "secret", DateTimeOffset.UtcNow, Window));

    [Theory]
    [InlineData("abc")]
    [InlineData("-1577262236757")]
    [InlineData(" 1577262236757")]
    [InlineData("1.5e12")]
    [InlineData("1577262236757.0")]
    [InlineData("99999999999999999999")]
    [InlineData("9999999999999999")]
    public void A_timestamp_that_is_not_epoch_milliseconds_is_malformed(string timestamp) =>
        Assert.Equal(SignatureCheck.MalformedTimestamp, CardCallbackSignature.Verify(timestamp, "c2ln", "secret", DateTimeOffset.UtcNow, Window));

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void A_genuine_signature_outside_the_window_either_way_is_stale(int direction)
    {
        const string timestamp = "1735689600000";
        var signature = CardCallbackSignature.Sign(timestamp, "secret");
        var now = At(timestamp) + (direction * (Window + TimeSpan.FromMilliseconds(1)));
        Assert.Equal(SignatureCheck.Stale, CardCallbackSignature.Verify(timestamp, signature, "secret", now, Window));
    }

    [Fact]
    public void A_signature_exactly_at_the_window_edge_is_valid()
    {
        const string timestamp = "1735689600000";
        var signature = CardCallbackSignature.Sign(timestamp, "secret");
        Assert.Equal(SignatureCheck.Valid, CardCallbackSignature.Verify(timestamp, signature, "secret", At(timestamp) + Window, Window));
    }

    [Theory]
    [InlineData("ytaYv7mhOzoifjhMZ/Xx0v8QerD0492pvpSX6ForrP0=", "another-secret")]
    [InlineData("ytaYv7mhOzoifjhMZ/Xx0v8QerD0492pvpSX6ForrP0", "test-api-secret-0123456789")]
    [InlineData("ytaYv7mhOzoifjhMZ/Xx0v8QerD0492pvpSX6Forr", "test-api-secret-0123456789")]
    [InlineData("!!!not base64!!!", "test-api-secret-0123456789")]
    [InlineData("ytaYv7mhOzoifjhMZ/Xx0v8QerD0492pvpSX6ForrP0=ytaYv7mhOzoifjhMZ/Xx0v8QerD0492pvpSX6ForrP0=", "test-api-secret-0123456789")]
    public void A_wrong_or_garbled_signature_is_a_mismatch(string signature, string secret) =>
        Assert.Equal(SignatureCheck.Mismatch, CardCallbackSignature.Verify("1735689600000", signature, secret, At("1735689600000"), Window));

    [Fact]
    public void A_stale_timestamp_with_a_wrong_signature_is_a_mismatch_not_a_clock_problem() =>
        Assert.Equal(SignatureCheck.Mismatch, CardCallbackSignature.Verify("1000", "c2lnbmF0dXJl", "secret", DateTimeOffset.UtcNow, Window));

    /// <summary>
    /// Each thread keeps an HMAC keyed with the last secret it used: another secret (a rotated one, or the robot scheme's
    /// AppSecret between two card callbacks) must rekey it, and an equal secret in another string must sign the same.
    /// </summary>
    [Fact]
    public void Secrets_taking_turns_on_one_thread_each_sign_with_their_own_key()
    {
        for (var round = 0; round < 2; round++)
        {
            foreach (var row in CardSchemeVectors)
            {
                var (timestamp, secret, signature) = ((string)row[0], (string)row[1], (string)row[2]);
                Assert.Equal(signature, CardCallbackSignature.Sign(timestamp, new string(secret.AsSpan())));
                Assert.Equal(SignatureCheck.Mismatch, CardCallbackSignature.Verify(timestamp, signature, secret + "2", At(timestamp), Window));
                Assert.Equal("DJrE6qdyVGCQz9z5r2MDuNcNAhwYnuAkyj13cx169CA=", RobotCallbackSignature.Sign("1577262236757", "this is a secret"));
                Assert.Equal(SignatureCheck.Valid, CardCallbackSignature.Verify(timestamp, signature, secret, At(timestamp), Window));
            }
        }
    }

    [Fact]
    public async Task Threads_with_different_secrets_at_once_each_get_their_own_signature()
    {
        var vectors = CardSchemeVectors.Select(row => ((string)row[0], (string)row[1], (string)row[2])).ToArray();
        var wrong = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, 20_000), (i, _) =>
        {
            var (timestamp, secret, signature) = vectors[i % vectors.Length];
            if (CardCallbackSignature.Sign(timestamp, secret) != signature)
            {
                Interlocked.Increment(ref wrong);
            }

            return ValueTask.CompletedTask;
        });
        Assert.Equal(0, wrong);
    }

    private static DateTimeOffset At(string timestamp) => DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(timestamp, System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>
    /// During a rotation DingTalk signs with whichever secret was registered last: a replica still on the old one had to
    /// refuse every click signed with the new one (and the other way round). A listed previous secret verifies, after
    /// the current one; its window is the same; an unlisted one still does not.
    /// </summary>
    [Theory]
    [MemberData(nameof(CardSchemeVectors))]
    public void The_vector_verifies_under_its_secret_listed_as_previous(string timestamp, string secret, string signature)
    {
        Assert.Equal(SignatureCheck.Valid, CardCallbackSignature.Verify(timestamp, signature, "the new secret", ["another old one", secret], At(timestamp), Window, out var previous));
        Assert.Equal(1, previous);
        Assert.Equal(SignatureCheck.Mismatch, CardCallbackSignature.Verify(timestamp, signature, "the new secret", ["another old one"], At(timestamp), Window, out previous));
        Assert.Equal(-1, previous);
        Assert.Equal(SignatureCheck.Stale, CardCallbackSignature.Verify(timestamp, signature, "the new secret", [secret], At(timestamp) + Window + TimeSpan.FromSeconds(1), Window, out previous));
        Assert.Equal(SignatureCheck.Valid, CardCallbackSignature.Verify(timestamp, signature, secret, ["the new secret"], At(timestamp), Window, out previous));
        Assert.Equal(-1, previous);
    }
}
