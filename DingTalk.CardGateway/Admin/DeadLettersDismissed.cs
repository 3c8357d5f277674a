namespace DingTalk.CardGateway.Admin;

/// <summary>The answer of <c>DELETE /api/cards/{id}/dead-letters</c>: how many of the id's dead letters were dismissed.</summary>
public sealed record DeadLettersDismissed(string CardId, int Dismissed);
