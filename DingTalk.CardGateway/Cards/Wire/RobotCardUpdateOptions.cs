namespace DingTalk.CardGateway.Cards.Wire;

public sealed record RobotCardUpdateOptions(bool UpdateCardDataByKey, bool UpdatePrivateDataByKey);
