namespace DingTalk.Sandbox.State;

/// <summary>The sandbox's mutable record of one advanced card; read it through <see cref="Snapshot"/>.</summary>
internal sealed class CardRecord(string outTrackId, string cardTemplateId, DateTimeOffset createdAt)
{
    public string OutTrackId { get; } = outTrackId;

    public string CardTemplateId { get; } = cardTemplateId;

    public DateTimeOffset CreatedAt { get; } = createdAt;

    public string CallbackType { get; set; } = "";

    public string? CallbackRouteKey { get; set; }

    public Dictionary<string, string> CardData { get; set; } = new(StringComparer.Ordinal);

    public Dictionary<string, Dictionary<string, string>> PrivateData { get; } = new(StringComparer.Ordinal);

    public List<string> SpaceModels { get; } = [];

    public List<string> OpenSpaceIds { get; } = [];

    public List<SandboxDelivery> Deliveries { get; } = [];

    public List<StreamingFrame> Frames { get; } = [];

    public HashSet<string> FrameGuids { get; } = new(StringComparer.Ordinal);

    public DateTimeOffset? LastFrameAt { get; set; }

    public int UpdateCount { get; set; }

    /// <summary>DingTalk's update of the card's data: merged into it by key, or replacing it.</summary>
    public void UpdateCardData(Dictionary<string, string> update, bool byKey) => CardData = Updated(CardData, update, byKey);

    /// <summary>DingTalk's update of one user's private data: merged into it by key, or replacing it.</summary>
    public void UpdatePrivateData(string userId, Dictionary<string, string> update, bool byKey) =>
        PrivateData[userId] = Updated(PrivateData.GetValueOrDefault(userId), update, byKey);

    public SandboxCard Snapshot() => new(
        OutTrackId,
        CardTemplateId,
        CallbackType,
        CallbackRouteKey,
        new Dictionary<string, string>(CardData),
        PrivateData.ToDictionary(p => p.Key, p => (IReadOnlyDictionary<string, string>)new Dictionary<string, string>(p.Value), StringComparer.Ordinal),
        [.. SpaceModels],
        [.. OpenSpaceIds],
        [.. Deliveries],
        [.. Frames],
        UpdateCount,
        CreatedAt);

    private static Dictionary<string, string> Updated(Dictionary<string, string>? current, Dictionary<string, string> update, bool byKey)
    {
        if (!byKey || current is null)
        {
            return update;
        }

        foreach (var (key, value) in update)
        {
            current[key] = value;
        }

        return current;
    }
}
