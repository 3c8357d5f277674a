namespace DingTalk.CardGateway.Cards.Wire;

public sealed record CreateAndDeliverResult(string? OutTrackId, IReadOnlyList<DeliverResult>? DeliverResults);
