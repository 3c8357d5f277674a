namespace DingTalk.CardGateway.Cards;

/// <summary>The outcome of a normal robot card's send.</summary>
/// <param name="ProcessQueryKey">DingTalk's key for the send; null when its answer was lost.</param>
/// <param name="Confirmed">
/// False when an attempt may have reached DingTalk and its answer was lost (a timeout, a connection broken after the
/// request left, a 5xx): the card may or may not be in the chat, and it was not sent again.
/// </param>
public sealed record RobotCardDelivery(string? ProcessQueryKey, bool Confirmed);
