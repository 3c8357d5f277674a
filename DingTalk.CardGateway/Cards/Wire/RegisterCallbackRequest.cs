namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>POST /v1.0/card/callbacks/register.</summary>
public sealed record RegisterCallbackRequest(string CallbackRouteKey, string CallbackUrl, string ApiSecret, bool ForceUpdate);
