using DingTalk.CardGateway.Cards.Wire;

namespace DingTalk.CardGateway.Cards;

/// <summary>The outcome of createAndDeliver, per target: DingTalk can accept some targets and refuse others inside a 200.</summary>
public sealed record CardDelivery(string OutTrackId, string CallbackType, string OpenSpaceId, IReadOnlyList<DeliverResult> DeliverResults)
{
    public bool AllDelivered => DeliverResults.Count > 0 && DeliverResults.All(r => r.Success);

    /// <summary>
    /// False when the card was created but DingTalk's answer, with its per-target results, was lost: a retry found it
    /// already created. <see cref="DeliverResults"/> is then empty.
    /// </summary>
    public bool Confirmed { get; init; } = true;
}
