namespace DingTalk.CardGateway.Cards.Wire;

/// <summary><c>result</c> is the outTrackId.</summary>
public sealed record CreateCardResponse(bool Success, string? Result);
