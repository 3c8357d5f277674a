namespace DingTalk.Sandbox;

/// <summary>
/// What the emulator keeps across a restart (<see cref="SandboxState.Export"/>, <see cref="SandboxState.Import"/>):
/// its advanced and robot cards, as DingTalk would still have them. Not tokens, callback registrations, injected faults
/// or the request log: a restarted gateway fetches a token and registers again.
/// </summary>
public sealed record SandboxSnapshot(IReadOnlyList<SandboxSnapshot.Card> Cards, IReadOnlyList<SandboxSnapshot.RobotCard> RobotCards)
{
    public sealed record Card(
        string OutTrackId,
        string CardTemplateId,
        DateTimeOffset CreatedAt,
        string CallbackType,
        string? CallbackRouteKey,
        IReadOnlyDictionary<string, string> CardData,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> PrivateData,
        IReadOnlyList<string> SpaceModels,
        IReadOnlyList<string> OpenSpaceIds,
        IReadOnlyList<SandboxDelivery> Deliveries,
        IReadOnlyList<StreamingFrame> StreamingFrames,
        int UpdateCount);

    public sealed record RobotCard(
        string CardBizId,
        string CardTemplateId,
        string RobotCode,
        string CardData,
        string? CallbackUrl,
        string? OpenConversationId,
        string? SingleChatReceiver,
        string? UserIdPrivateDataMap,
        string? UnionIdPrivateDataMap,
        int UpdateCount);
}
