namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>Robot-card send and update answer with a <c>processQueryKey</c>.</summary>
public sealed record RobotCardResponse(string? ProcessQueryKey);
