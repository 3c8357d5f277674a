namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>POST /v1.0/oauth2/accessToken.</summary>
public sealed record AccessTokenRequest(string AppKey, string AppSecret);
