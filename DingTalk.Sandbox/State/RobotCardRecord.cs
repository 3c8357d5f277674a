namespace DingTalk.Sandbox.State;

/// <summary>The sandbox's mutable record of one normal robot card; read it through <see cref="Snapshot"/>.</summary>
internal sealed class RobotCardRecord(string cardBizId, string cardTemplateId, string robotCode)
{
    public string CardBizId { get; } = cardBizId;

    public string CardTemplateId { get; } = cardTemplateId;

    public string RobotCode { get; } = robotCode;

    public string CardData { get; set; } = "{}";

    public string? CallbackUrl { get; set; }

    public string? OpenConversationId { get; set; }

    public string? SingleChatReceiver { get; set; }

    public string? UserIdPrivateDataMap { get; set; }

    public string? UnionIdPrivateDataMap { get; set; }

    public int UpdateCount { get; set; }

    public SandboxRobotCard Snapshot() => new(
        CardBizId,
        CardTemplateId,
        RobotCode,
        CardData,
        CallbackUrl,
        OpenConversationId,
        SingleChatReceiver,
        UserIdPrivateDataMap,
        UnionIdPrivateDataMap,
        UpdateCount);
}
