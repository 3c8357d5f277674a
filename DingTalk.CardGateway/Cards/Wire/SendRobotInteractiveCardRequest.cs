namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>POST /v1.0/im/v1.0/robot/interactiveCards/send. Card data and private data are JSON strings.</summary>
public sealed record SendRobotInteractiveCardRequest
{
    public required string CardTemplateId { get; init; }

    public required string CardBizId { get; init; }

    public required string RobotCode { get; init; }

    public required string CardData { get; init; }

    public string? OpenConversationId { get; init; }

    /// <summary>A JSON string such as <c>{"userId":"…"}</c>.</summary>
    public string? SingleChatReceiver { get; init; }

    public string? CallbackUrl { get; init; }

    public string? UserIdPrivateDataMap { get; init; }

    public string? UnionIdPrivateDataMap { get; init; }

    public RobotSendOptions? SendOptions { get; init; }

    public bool? PullStrategy { get; init; }
}
