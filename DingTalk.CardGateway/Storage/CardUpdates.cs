using System.Text.Json;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Handlers;

namespace DingTalk.CardGateway.Storage;

/// <summary>
/// The one way a card changes for everyone, whoever asks (a handler, an operator): the stored card is updated and
/// the update is queued in the outbox, both in the scope's storage session — one transaction when it has one open.
/// </summary>
public sealed class CardUpdates(ICardStore cards, IOutbox outbox, OutboxSignal signal)
{
    /// <summary>Where a robot card's StandardCard JSON is kept in <see cref="CardRecord.PublicData"/>.</summary>
    public const string RobotCardDataKey = "cardData";

    /// <returns>The outbox entry's id.</returns>
    public async Task<long> QueueAsync(PendingCardUpdate update, bool afterAnswer, CancellationToken cancellationToken)
    {
        var stored = await cards.ApplyUpdateAsync(update.CardId, StoredChange(update), cancellationToken);
        return await outbox.EnqueueAsync(WithUsersShownWhole(WithBlocksShown(update, stored), stored), afterAnswer, cancellationToken);
    }

    /// <summary>
    /// A callback's update for everyone, after its handler, as its transaction's last write before the outcome: the card
    /// and the entry may be written with the commit (on PostgreSQL: two round trips fewer while the card is locked).
    /// </summary>
    public async Task QueueLastAsync(PendingCardUpdate update, CancellationToken cancellationToken)
    {
        var stored = await cards.ApplyLastUpdateAsync(update.CardId, StoredChange(update), cancellationToken);
        await outbox.EnqueueLastAsync(WithUsersShownWhole(WithBlocksShown(update, stored), stored), cancellationToken);
    }

    /// <summary>
    /// A robot card's blocks leave for DingTalk as the <c>contents</c> they were written into — the stored card's, read
    /// under its lock, so updates of other blocks meanwhile are kept. A card the gateway has no copy of gets no
    /// <c>contents</c> at all: one built from nothing would replace the real one.
    /// </summary>
    internal static PendingCardUpdate WithBlocksShown(PendingCardUpdate update, CardRecord? stored)
    {
        if (update.RobotBlocks is not { Count: > 0 })
        {
            return update;
        }

        var cardData = new Dictionary<string, JsonElement>(update.CardData ?? new Dictionary<string, JsonElement>(), StringComparer.Ordinal);
        if (RobotCardData.Contents(stored?.PublicData.GetValueOrDefault(RobotCardDataKey)) is { } contents)
        {
            cardData["contents"] = contents;
        }

        return update with { CardData = cardData, RobotBlocks = null };
    }

    /// <summary>
    /// DingTalk merges a robot card's <c>userIdPrivateDataMap</c> by its top-level keys, the users: a user's values sent
    /// alone would replace everything that user had. So each user an update names leaves with that user's whole private
    /// data as stored after it (read under the card's lock, merged by key), this update's own values as it gave them.
    /// A replacing update, and a card the gateway has no copy of, send only what they hold.
    /// </summary>
    internal static PendingCardUpdate WithUsersShownWhole(PendingCardUpdate update, CardRecord? stored)
    {
        if (update.Kind != CardKind.Robot || update.Replace || update.PrivateData is not { Count: > 0 } privateData || stored is null)
        {
            return update;
        }

        return update with
        {
            PrivateData = privateData.ToDictionary(
                user => user.Key,
                user =>
                {
                    var whole = stored.PrivateData.GetValueOrDefault(user.Key) is { } kept
                        ? CardParamMapEncoder.AsValues(kept)
                        : new Dictionary<string, JsonElement>(StringComparer.Ordinal);
                    foreach (var (key, value) in user.Value)
                    {
                        whole[key] = value;
                    }

                    return (IReadOnlyDictionary<string, JsonElement>)whole;
                },
                StringComparer.Ordinal),
        };
    }

    /// <summary>Wakes this replica's outbox dispatcher: call it once the session has committed.</summary>
    public void Wake() => signal.Wake();

    /// <summary>What <paramref name="update"/> changes in the stored card.</summary>
    internal static CardDataChange StoredChange(PendingCardUpdate update)
    {
        var privateData = update.PrivateData?.ToDictionary(
            p => p.Key, p => (IReadOnlyDictionary<string, string>)CardParamMapEncoder.Encode(p.Value), StringComparer.Ordinal);
        if (update.Kind == CardKind.Advanced)
        {
            return new CardDataChange(update.CardData is null ? null : CardParamMapEncoder.Encode(update.CardData), privateData, update.Replace);
        }

        // A robot card is stored as its whole StandardCard JSON under "cardData"; DingTalk merges by top-level key. Its
        // private data is one map of users, which a replacing update replaces whole (as DingTalk does).
        return new CardDataChange(
            PublicData: null,
            privateData,
            Replace: false,
            ReplacePrivateMap: update.Replace,
            PublicFrom: update.CardData is not null || update.RobotBlocks is not null
                ? CardDataChange.Value(RobotCardDataKey, current => RobotCardData.Merge(update.Replace ? null : current, update.CardData ?? new Dictionary<string, JsonElement>(), update.RobotBlocks))
                : null);
    }

    /// <summary>A JSON object's top-level properties, as an update's values.</summary>
    public static IReadOnlyDictionary<string, JsonElement> Properties(JsonElement obj) =>
        obj.ValueKind == JsonValueKind.Object
            ? obj.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal)
            : new Dictionary<string, JsonElement>();
}
