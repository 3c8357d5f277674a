namespace DingTalk.CardGateway.Cards.Wire;

/// <summary><c>expireIn</c> is in seconds (7200).</summary>
public sealed record AccessTokenResponse(string AccessToken, long ExpireIn);
