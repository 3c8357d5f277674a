namespace DingTalk.Sandbox;

/// <summary>A snapshot of one normal robot card (<c>/v1.0/im/…/interactiveCards</c>).</summary>
public sealed class SandboxRobotCard
{
    internal SandboxRobotCard(
        string cardBizId,
        string cardTemplateId,
        string robotCode,
        string cardData,
        string? callbackUrl,
        string? openConversationId,
        string? singleChatReceiver,
        string? userIdPrivateDataMap,
        string? unionIdPrivateDataMap,
        int updateCount)
    {
        CardBizId = cardBizId;
        CardTemplateId = cardTemplateId;
        RobotCode = robotCode;
        CardData = cardData;
        CallbackUrl = callbackUrl;
        OpenConversationId = openConversationId;
        SingleChatReceiver = singleChatReceiver;
        UserIdPrivateDataMap = userIdPrivateDataMap;
        UnionIdPrivateDataMap = unionIdPrivateDataMap;
        UpdateCount = updateCount;
    }

    public string CardBizId { get; }

    public string CardTemplateId { get; }

    public string RobotCode { get; }

    /// <summary>The <c>cardData</c> JSON string as last set (merged by top-level key when <c>updateCardDataByKey</c>).</summary>
    public string CardData { get; }

    public string? CallbackUrl { get; }

    public string? OpenConversationId { get; }

    /// <summary>The <c>singleChatReceiver</c> JSON string, e.g. <c>{"userId":"…"}</c>.</summary>
    public string? SingleChatReceiver { get; }

    /// <summary>The <c>userIdPrivateDataMap</c> JSON string as last set.</summary>
    public string? UserIdPrivateDataMap { get; }

    public string? UnionIdPrivateDataMap { get; }

    /// <summary>Accepted <c>PUT /v1.0/im/robots/interactiveCards</c> calls.</summary>
    public int UpdateCount { get; }
}
