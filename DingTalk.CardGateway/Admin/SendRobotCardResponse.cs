namespace DingTalk.CardGateway.Admin;

public sealed record SendRobotCardResponse(string CardBizId, string? ProcessQueryKey);
