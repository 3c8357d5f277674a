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

    /// <summary>
    /// A robot card keeps the URL it was sent with for as long as it is in the chat: rotating the ApiSecret made every
    /// card already sent answer 401 to every click, for good. A secret listed as previous still opens the cards minted
    /// under it (and says which it was); one that is not listed does not.
    /// </summary>
    [Fact]
    public void A_token_minted_under_a_previous_secret_opens_its_card_only_while_that_secret_is_listed()
    {
        var minted = RobotCardCallbackToken.Mint("biz-42", "this is a secret");

        Assert.Equal(TokenCheck.Valid, RobotCardCallbackToken.Verify("biz-42", minted, "the new secret", ["another old one", "this is a secret"], out var previous));
        Assert.Equal(1, previous);
        Assert.Equal(TokenCheck.Mismatch, RobotCardCallbackToken.Verify("biz-42", minted, "the new secret", [], out previous));
        Assert.Equal(-1, previous);
        Assert.Equal(TokenCheck.Mismatch, RobotCardCallbackToken.Verify("biz-42x", minted, "the new secret", ["this is a secret"], out previous));
        Assert.Equal(-1, previous);
        Assert.Equal(TokenCheck.Valid, RobotCardCallbackToken.Verify("biz-42", minted, "this is a secret", ["the new secret"], out previous));
        Assert.Equal(-1, previous); // the current secret first: no previous one was needed
    }

    [Fact]
    public void A_token_minted_before_the_prefix_under_a_previous_secret_is_judged_as_under_the_current_one()
    {
        Assert.Equal(TokenCheck.Legacy, RobotCardCallbackToken.Verify("biz-42", "7_1DYnLI9ywRb-ZfaO1e-dYWWvWiVrz3H7vo7iSXink", "the new secret", ["this is a secret"], out var previous));
        Assert.Equal(0, previous);
        const string signatureAsToken = "LvfYUxPBXSe7iwYNqw1Za3pE7sZM_VwVOyf5ljNwLFI";
        Assert.Equal(TokenCheck.LegacyForTimestampId, RobotCardCallbackToken.Verify("1764200000000", signatureAsToken, "the new secret", ["this is a secret"], out _));
    }
}
