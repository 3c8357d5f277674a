namespace DingTalk.CardGateway.Storage;

/// <summary>A change to a card's data, already string-encoded; null maps are left as they are.</summary>
/// <param name="PublicData">Values for everyone, merged by key (or replacing them all with <paramref name="Replace"/>).</param>
/// <param name="PrivateData">Values per user, merged the same way into each user's.</param>
/// <param name="Replace">Replace the maps given instead of merging into them.</param>
/// <param name="ReplacePrivateMap">
/// <paramref name="PrivateData"/>, when given, becomes the card's whole private data: users it leaves out have none
/// left. A robot card's replacing update, which DingTalk applies to the card's whole <c>userIdPrivateDataMap</c>.
/// </param>
/// <param name="PublicFrom">
/// Values for everyone computed from the card as the store read it for this change — under the row lock, or again after a
/// version conflict — merged by key, so two changes computed from one value both land instead of the later overwriting
/// the earlier: a normal robot card's StandardCard JSON (<see cref="CardUpdates.RobotCardDataKey"/>), an appending
/// streaming frame's text (which DingTalk appends to what the card shows). See <see cref="Value"/>.
/// </param>
public sealed record CardDataChange(
    IReadOnlyDictionary<string, string>? PublicData,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>? PrivateData,
    bool Replace,
    bool ReplacePrivateMap = false,
    Func<CardRecord, IReadOnlyDictionary<string, string>>? PublicFrom = null)
{
    /// <summary>A <see cref="PublicFrom"/> of one value: <paramref name="key"/>'s new value from its stored one (null when none).</summary>
    public static Func<CardRecord, IReadOnlyDictionary<string, string>> Value(string key, Func<string?, string> from) =>
        card => new Dictionary<string, string>(StringComparer.Ordinal) { [key] = from(card.PublicData.GetValueOrDefault(key)) };

    public CardRecord ApplyTo(CardRecord card, DateTimeOffset now)
    {
        var publicData = PublicData is null ? card.PublicData : Merge(card.PublicData, PublicData, Replace);
        if (PublicFrom is not null)
        {
            publicData = Merge(publicData, PublicFrom(card), replace: false);
        }

        var privateData = card.PrivateData; // unchanged unless this change has values per user (most have none)
        if (PrivateData is not null)
        {
            var merged = ReplacePrivateMap
                ? new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal)
                : card.PrivateData.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            foreach (var (userId, values) in PrivateData)
            {
                merged[userId] = merged.TryGetValue(userId, out var existing) ? Merge(existing, values, Replace) : values;
            }

            privateData = merged;
        }

        return card with { PublicData = publicData, PrivateData = privateData, Version = card.Version + 1, UpdatedAt = now };
    }

    private static Dictionary<string, string> Merge(IReadOnlyDictionary<string, string> current, IReadOnlyDictionary<string, string> change, bool replace)
    {
        var result = replace ? new Dictionary<string, string>(StringComparer.Ordinal) : current.ToDictionary(StringComparer.Ordinal);
        foreach (var (key, value) in change)
        {
            result[key] = value;
        }

        return result;
    }
}
