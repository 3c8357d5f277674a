namespace DingTalk.CardGateway.Cards.Wire;

public sealed record RobotSendOptions(bool? AtAll = null, string? AtUserListJson = null, string? ReceiverListJson = null, string? CardPropertyJson = null);
