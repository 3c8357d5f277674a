using System.Text.Json;
using DingTalk.CardGateway.Callbacks;

namespace DingTalk.CardGateway.Tests.Callbacks;

public class RobotCallbackSignatureTests
{
    public static TheoryData<string, string, string> PublishedVectors()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var vector in Vectors.Load("robot_callback_sign.json").GetProperty("cases").EnumerateArray())
        {
            data.Add(Text(vector, "timestamp"), Text(vector, "app_secret"), Text(vector, "sign"));
        }

        return data;
    }

    [Fact]
    public void The_documented_example_signs_to_the_published_value() =>
        Assert.Equal("DJrE6qdyVGCQz9z5r2MDuNcNAhwYnuAkyj13cx169CA=", RobotCallbackSignature.Sign("1577262236757", "this is a secret"));

    [Theory]
    [MemberData(nameof(PublishedVectors))]
    public void Signing_gives_the_vector(string timestamp, string appSecret, string sign) =>
        Assert.Equal(sign, RobotCallbackSignature.Sign(timestamp, appSecret));

    [Theory]
    [MemberData(nameof(PublishedVectors))]
    public void The_vector_verifies_within_the_hour(string timestamp, string appSecret, string sign) =>
        Assert.Equal(SignatureCheck.Valid, RobotCallbackSignature.Verify(timestamp, sign, appSecret, At(timestamp) + TimeSpan.FromMinutes(59)));

    [Theory]
    [MemberData(nameof(PublishedVectors))]
    public void The_vector_is_stale_after_an_hour(string timestamp, string appSecret, string sign) =>
        Assert.Equal(SignatureCheck.Stale, RobotCallbackSignature.Verify(timestamp, sign, appSecret, At(timestamp) + TimeSpan.FromMinutes(61)));

    [Fact]
    public void A_card_scheme_signature_is_a_mismatch_for_the_robot_scheme() =>
        Assert.Equal(
            SignatureCheck.Mismatch,
            RobotCallbackSignature.Verify("1577262236757", CardCallbackSignature.Sign("1577262236757", "this is a secret"), "this is a secret", At("1577262236757")));

    private static string Text(JsonElement vector, string name) => vector.GetProperty(name).GetString()!;

    private static DateTimeOffset At(string timestamp) => DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(timestamp, System.Globalization.CultureInfo.InvariantCulture));
}
