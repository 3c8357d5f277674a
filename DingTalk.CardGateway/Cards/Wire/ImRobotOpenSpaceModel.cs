namespace DingTalk.CardGateway.Cards.Wire;

public sealed record ImRobotOpenSpaceModel(bool? SupportForward = null);
