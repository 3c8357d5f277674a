namespace DingTalk.CardGateway.Admin;

/// <summary>The robot card sent.</summary>
/// <param name="CardBizId">The card's id (the one given, or the one generated).</param>
/// <param name="ProcessQueryKey">DingTalk's key for the send; absent when its answer was lost.</param>
/// <param name="DeliveryConfirmed">
/// False (with 202) when DingTalk's answer was lost after the request may have reached it (a timeout, a connection
/// broken after the request left, a 5xx): the card may or may not be in the chat, and the gateway did not send it again,
/// since DingTalk cannot tell a repeat from a new card. It is stored, so its clicks are handled if it arrived. Check the
/// chat; sending the same cardBizId again may show it twice.
/// </param>
public sealed record SendRobotCardResponse(string CardBizId, string? ProcessQueryKey, bool DeliveryConfirmed = true);
