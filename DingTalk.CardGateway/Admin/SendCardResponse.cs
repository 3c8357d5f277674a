using DingTalk.CardGateway.Cards.Wire;

namespace DingTalk.CardGateway.Admin;

/// <summary>The created card and, per target, whether DingTalk delivered it.</summary>
/// <param name="OutTrackId">The card's id (the one given, or the one generated).</param>
/// <param name="CallbackType">Where its clicks come: <c>HTTP</c> or <c>STREAM</c>.</param>
/// <param name="AllDelivered">True when DingTalk confirmed every target.</param>
/// <param name="DeliverResults">DingTalk's result per target.</param>
/// <param name="DeliveryConfirmed">
/// False when DingTalk created the card but its answer was lost (a timeout or 5xx, then a retry that found the card
/// already there): the card exists and is stored, <c>deliverResults</c> is empty and
/// <c>allDelivered</c> false because which targets it reached is unknown. Check the chat; do not send it again.
/// </param>
public sealed record SendCardResponse(string OutTrackId, string CallbackType, bool AllDelivered, IReadOnlyList<DeliverResult> DeliverResults, bool DeliveryConfirmed = true);
