namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>PUT /v1.0/im/robots/interactiveCards.</summary>
public sealed record UpdateRobotInteractiveCardRequest
{
    public required string CardBizId { get; init; }

    public required string CardData { get; init; }

    public string? UserIdPrivateDataMap { get; init; }

    public string? UnionIdPrivateDataMap { get; init; }

    public RobotCardUpdateOptions? UpdateOptions { get; init; }
}
