namespace DingTalk.CardGateway.Storage;

/// <summary>A card the gateway created, as it last knows it: public data and per-user private data, string-encoded.</summary>
public sealed record CardRecord
{
    /// <summary>The outTrackId of an advanced card, or the cardBizId of a normal robot card.</summary>
    public required string Id { get; init; }

    public required CardKind Kind { get; init; }

    public required string TemplateId { get; init; }

    /// <summary><c>HTTP</c> or <c>STREAM</c> (advanced cards).</summary>
    public string? CallbackType { get; init; }

    public string? OpenSpaceId { get; init; }

    public IReadOnlyDictionary<string, string> PublicData { get; init; } = new Dictionary<string, string>();

    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> PrivateData { get; init; } =
        new Dictionary<string, IReadOnlyDictionary<string, string>>();

    public long Version { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>
    /// False from the moment the gateway stores a card it is about to send until DingTalk confirms it has the card: a send
    /// whose answer never came (DingTalk unreachable, the database failing after DingTalk's answer) leaves it false, so a
    /// retry of the same id that DingTalk answers "already exists" is known to be this card.
    /// </summary>
    public bool CreationConfirmed { get; init; } = true;
}
