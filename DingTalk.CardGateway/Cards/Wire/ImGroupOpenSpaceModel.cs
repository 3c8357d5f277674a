namespace DingTalk.CardGateway.Cards.Wire;

public sealed record ImGroupOpenSpaceModel(bool? SupportForward = null);
