namespace DingTalk.CardGateway.Storage;

/// <summary>A change to a card's data, already string-encoded; null maps are left as they are.</summary>
public sealed record CardDataChange(
    IReadOnlyDictionary<string, string>? PublicData,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>? PrivateData,
    bool Replace)
{
    public CardRecord ApplyTo(CardRecord card, DateTimeOffset now)
    {
        var publicData = PublicData is null ? card.PublicData : Merge(card.PublicData, PublicData, Replace);
        var privateData = card.PrivateData.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        foreach (var (userId, values) in PrivateData ?? new Dictionary<string, IReadOnlyDictionary<string, string>>())
        {
            privateData[userId] = privateData.TryGetValue(userId, out var existing) ? Merge(existing, values, Replace) : values;
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
