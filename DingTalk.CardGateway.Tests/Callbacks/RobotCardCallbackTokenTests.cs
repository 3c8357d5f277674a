using DingTalk.CardGateway.Callbacks;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// The token is minted into cards DingTalk already holds: it must stay Base64Url(HMAC-SHA256(ApiSecret, cardBizId)),
/// or every card sent before a change would be refused. Vectors computed independently (Python's hmac).
/// </summary>
public class RobotCardCallbackTokenTests
{
    [Theory]
    [InlineData("biz-42", "this is a secret", "7_1DYnLI9ywRb-ZfaO1e-dYWWvWiVrz3H7vo7iSXink")]
    [InlineData("cardBizId-中文-1", "SEC1234567890abcdef", "r1ogRWYtfOuTstPQvyGttrYCXGQ2dWqffkb8xfb7Y2s")]
    public void The_token_is_the_vector_and_verifies_for_its_card_only(string cardBizId, string apiSecret, string token)
    {
        Assert.Equal(token, RobotCardCallbackToken.Mint(cardBizId, apiSecret));
        Assert.True(RobotCardCallbackToken.Verify(cardBizId, token, apiSecret));
        Assert.False(RobotCardCallbackToken.Verify(cardBizId + "x", token, apiSecret));
        Assert.False(RobotCardCallbackToken.Verify(cardBizId, token, apiSecret + "x"));
    }
}
