namespace DingTalk.CardGateway.Cards.Wire;

/// <summary><c>result</c> is the array of per-target results.</summary>
public sealed record DeliverCardResponse(bool Success, IReadOnlyList<DeliverResult>? Result);
