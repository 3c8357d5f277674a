namespace DingTalk.CardGateway.Cards.Wire;

public sealed record CreateAndDeliverResponse(bool Success, CreateAndDeliverResult? Result);
