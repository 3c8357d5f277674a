using System.Text.Json;
using System.Text.Json.Serialization;

namespace DingTalk.CardGateway.Storage;

/// <summary>
/// An update for everyone who sees a card, waiting to leave for DingTalk: public values and per-user private
/// values, in ordinary JSON, merged by key into what the card shows (or replacing it, for an admin's replace).
/// </summary>
/// <param name="CardId">The outTrackId of an advanced card, or the cardBizId of a robot card.</param>
/// <param name="Kind">Which DingTalk API updates it.</param>
/// <param name="CardData">Values for everyone, merged by key.</param>
/// <param name="PrivateData">Values per user, merged by key into each user's.</param>
/// <param name="Replace">Replace what the card shows instead of merging into it (an operator's).</param>
/// <param name="RobotBlocks">
/// A robot card's markdown blocks to show (block id → text): <see cref="CardUpdates"/> writes them into the stored
/// card's <c>contents</c> and queues that <c>contents</c> instead, so the outbox never holds them.
/// </param>
public sealed record PendingCardUpdate(
    string CardId,
    CardKind Kind,
    IReadOnlyDictionary<string, JsonElement>? CardData,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, JsonElement>>? PrivateData,
    bool Replace = false,
    IReadOnlyDictionary<string, string>? RobotBlocks = null)
{
    /// <summary>
    /// A refresh: no values of its own; the dispatcher folds in the card's stored public data (every update merged) in its
    /// place, and the stored private data of the users <see cref="RefreshUsers"/> names, so sending it makes DingTalk show
    /// the latest whatever reached it before. Queued by a replica that lost the card's lease while sending, whose older
    /// update may land after the new owner's newer one.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Refresh { get; init; }

    /// <summary>
    /// A refresh's users: those whose private values the lost attempt carried, whose stored private data (all keys, every
    /// update merged) the refresh sends. Only they: the older values that may land late are theirs, and a card may have
    /// thousands of users. Null: none.
    /// </summary>
    public IReadOnlyList<string>? RefreshUsers { get; init; }

    /// <summary>
    /// A refresh that sends every user's stored private data, not only <see cref="RefreshUsers"/>': the card's whole stored
    /// state. Queued by an operator (<c>POST /api/cards/{id}/resend</c>) once the cause of a dead letter is fixed; delivered,
    /// it resolves the card's dead letters refused before it left (<see cref="OutboxStatus.Resolved"/>): what they carried is in it.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Resend { get; init; }

    /// <summary>A resend of the card's whole stored state (<see cref="Resend"/>).</summary>
    public static PendingCardUpdate ResendOf(string cardId, CardKind kind) =>
        new(cardId, kind, CardData: null, PrivateData: null) { Refresh = true, Resend = true };

    /// <summary>A refresh of the card (<see cref="Refresh"/>), and of the private data of <paramref name="users"/>.</summary>
    public static PendingCardUpdate RefreshOf(string cardId, CardKind kind, IEnumerable<string>? users = null) =>
        new(cardId, kind, CardData: null, PrivateData: null)
        {
            Refresh = true,
            RefreshUsers = users?.Distinct(StringComparer.Ordinal).ToList() is { Count: > 0 } named ? named : null,
        };

    /// <summary>
    /// One update with the effect of this one followed by <paramref name="later"/>: later keys win, and a later
    /// replacing update makes everything before it moot.
    /// </summary>
    public PendingCardUpdate MergeWith(PendingCardUpdate later)
    {
        if (later.Replace)
        {
            return later;
        }

        var privateData = PrivateData?.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        foreach (var (userId, values) in later.PrivateData ?? new Dictionary<string, IReadOnlyDictionary<string, JsonElement>>())
        {
            privateData ??= new Dictionary<string, IReadOnlyDictionary<string, JsonElement>>(StringComparer.Ordinal);
            privateData[userId] = privateData.TryGetValue(userId, out var earlier) ? Merge(earlier, values)! : values;
        }

        return this with { CardData = Merge(CardData, later.CardData), PrivateData = privateData };
    }

    private static IReadOnlyDictionary<string, JsonElement>? Merge(
        IReadOnlyDictionary<string, JsonElement>? earlier, IReadOnlyDictionary<string, JsonElement>? later)
    {
        if (earlier is null || later is null)
        {
            return later ?? earlier;
        }

        var merged = earlier.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        foreach (var (key, value) in later)
        {
            merged[key] = value;
        }

        return merged;
    }
}
