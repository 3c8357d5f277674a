using DingTalk.CardGateway.Cards.Wire;

namespace DingTalk.CardGateway.Admin;

/// <summary>The created card and, per target, whether DingTalk delivered it.</summary>
public sealed record SendCardResponse(string OutTrackId, string CallbackType, bool AllDelivered, IReadOnlyList<DeliverResult> DeliverResults);
