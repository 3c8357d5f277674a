namespace DingTalk.Sandbox;

/// <summary>A snapshot of one advanced card (<c>/v1.0/card/instances</c>) as the sandbox holds it.</summary>
public sealed class SandboxCard
{
    internal SandboxCard(
        string outTrackId,
        string cardTemplateId,
        string callbackType,
        string? callbackRouteKey,
        IReadOnlyDictionary<string, string> cardData,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> privateData,
        IReadOnlyList<string> spaceModels,
        IReadOnlyList<string> openSpaceIds,
        IReadOnlyList<SandboxDelivery> deliveries,
        IReadOnlyList<StreamingFrame> streamingFrames,
        int updateCount,
        DateTimeOffset createdAt)
    {
        OutTrackId = outTrackId;
        CardTemplateId = cardTemplateId;
        CallbackType = callbackType;
        CallbackRouteKey = callbackRouteKey;
        CardData = cardData;
        PrivateData = privateData;
        SpaceModels = spaceModels;
        OpenSpaceIds = openSpaceIds;
        Deliveries = deliveries;
        StreamingFrames = streamingFrames;
        UpdateCount = updateCount;
        CreatedAt = createdAt;
    }

    public string OutTrackId { get; }

    public string CardTemplateId { get; }

    /// <summary><c>HTTP</c>, <c>STREAM</c>, or empty when the card was created without <c>callbackType</c>.</summary>
    public string CallbackType { get; }

    public string? CallbackRouteKey { get; }

    /// <summary><c>cardData.cardParamMap</c> after every update (streaming frames do not change it; see <see cref="StreamingText"/>).</summary>
    public IReadOnlyDictionary<string, string> CardData { get; }

    /// <summary><c>privateData[userId].cardParamMap</c> by userId.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> PrivateData { get; }

    /// <summary>The <c>…OpenSpaceModel</c> property names given at creation, e.g. <c>imGroupOpenSpaceModel</c>.</summary>
    public IReadOnlyList<string> SpaceModels { get; }

    /// <summary>Every <c>openSpaceId</c> the card was delivered to, as sent.</summary>
    public IReadOnlyList<string> OpenSpaceIds { get; }

    /// <summary>Every target of every deliver, with its outcome.</summary>
    public IReadOnlyList<SandboxDelivery> Deliveries { get; }

    public IReadOnlyList<StreamingFrame> StreamingFrames { get; }

    /// <summary>Accepted <c>PUT /v1.0/card/instances</c> calls.</summary>
    public int UpdateCount { get; }

    public DateTimeOffset CreatedAt { get; }

    /// <summary>
    /// What a client shows for each variable streamed into (<c>/v1.0/card/streaming</c> frames applied in order): the
    /// sandbox keeps frames apart from <see cref="CardData"/>, so this is where a typewriter's text can be read in <c>/sandbox/cards</c>.
    /// </summary>
    public IReadOnlyDictionary<string, string> StreamedText =>
        StreamingFrames.Select(f => f.Key).Distinct().ToDictionary(key => key, key => StreamingText(key) ?? "", StringComparer.Ordinal);

    /// <summary>The text a client would show for <paramref name="key"/> after applying the frames in order (full frames replace, others append); null when no frame named it.</summary>
    public string? StreamingText(string key)
    {
        string? text = null;
        foreach (var frame in StreamingFrames)
        {
            if (frame.Key == key)
            {
                text = frame.IsFull ? frame.Content : text + frame.Content;
            }
        }

        return text;
    }

    /// <summary>True once a frame for <paramref name="key"/> carried <c>isFinalize: true</c>.</summary>
    public bool IsStreamingFinalized(string key) => StreamingFrames.Any(f => f.Key == key && f.IsFinalize);
}
