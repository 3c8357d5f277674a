using DingTalk.CardGateway.Callbacks;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// The token is Base64Url(HMAC-SHA256(ApiSecret, "robot-card-callback\n" + cardBizId)): its own prefix keeps it apart from
/// the advanced-card signature under the same secret. Tokens minted into cards DingTalk already holds, before the
/// prefix, keep working where they cannot double as a signature. Vectors computed independently (Python's hmac).
/// </summary>
public class RobotCardCallbackTokenTests
{
    [Theory]
    [InlineData("biz-42", "this is a secret", "LgFFJE7Ztj8wFzXkD0KLJUc9JaVQMZLkZK7ACAJN7IE")]
    [InlineData("cardBizId-中文-1", "SEC1234567890abcdef", "6LiAubZOq6D5Oh1a7TLenpDDdLqyORFszTa-1Pr00u8")]
    [InlineData("1764200000000", "this is a secret", "PfFmTRYhae5O5LNB8oNK0o58-iIoaOWhLwPHZ0bZ2c8")]
    public void The_token_is_the_vector_and_verifies_for_its_card_only(string cardBizId, string apiSecret, string token)
    {
        Assert.Equal(token, RobotCardCallbackToken.Mint(cardBizId, apiSecret));
        Assert.Equal(TokenCheck.Valid, RobotCardCallbackToken.Verify(cardBizId, token, apiSecret));
        Assert.Equal(TokenCheck.Mismatch, RobotCardCallbackToken.Verify(cardBizId + "x", token, apiSecret));
        Assert.Equal(TokenCheck.Mismatch, RobotCardCallbackToken.Verify(cardBizId, token, apiSecret + "x"));
    }

    [Theory]
    [InlineData("biz-42", "this is a secret", "7_1DYnLI9ywRb-ZfaO1e-dYWWvWiVrz3H7vo7iSXink")]
    [InlineData("cardBizId-中文-1", "SEC1234567890abcdef", "r1ogRWYtfOuTstPQvyGttrYCXGQ2dWqffkb8xfb7Y2s")]
    [InlineData("12345", "this is a secret", "uVqRW_o6zpP9eEansrMtgsNwz6-wajzngeIEbr0gj0k")]
    public void A_token_minted_before_the_prefix_still_opens_its_card(string cardBizId, string apiSecret, string legacyToken)
    {
        Assert.Equal(TokenCheck.Legacy, RobotCardCallbackToken.Verify(cardBizId, legacyToken, apiSecret));
        Assert.Equal(TokenCheck.Mismatch, RobotCardCallbackToken.Verify(cardBizId + "x", legacyToken, apiSecret));
    }

    [Fact]
    public void A_card_callback_signature_does_not_open_a_robot_card_whose_id_is_its_timestamp()
    {
        // Base64(HMAC-SHA256("this is a secret", "1764200000000")): what DingTalk signs an advanced-card callback with at
        // that millisecond. Without the prefix it was, in URL-safe letters, the token of the robot card "1764200000000".
        const string signature = "LvfYUxPBXSe7iwYNqw1Za3pE7sZM/VwVOyf5ljNwLFI=";
        var asToken = signature.TrimEnd('=').Replace('+', '-').Replace('/', '_');

        Assert.Equal(TokenCheck.LegacyForTimestampId, RobotCardCallbackToken.Verify("1764200000000", asToken, "this is a secret"));
        Assert.NotEqual(asToken, RobotCardCallbackToken.Mint("1764200000000", "this is a secret"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("AAAA")]
    [InlineData("LgFFJE7Ztj8wFzXkD0KLJUc9JaVQMZLkZK7ACAJN7IE=")]
    [InlineData("LgFFJE7Ztj8wFzXkD0KLJUc9JaVQMZLkZK7ACAJN7I%")]
    public void A_malformed_token_is_a_mismatch(string token) =>
        Assert.Equal(TokenCheck.Mismatch, RobotCardCallbackToken.Verify("biz-42", token, "this is a secret"));
}
