namespace DingTalk.CardGateway.Cards.Wire;

public sealed record RegisterCallbackResponse(bool Success, RegisterCallbackResult? Result);
