namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>One target of a delivery; <c>success: false</c> can hide inside an HTTP 200.</summary>
public sealed record DeliverResult(string? SpaceType, string? SpaceId, bool Success, string? ErrorMsg, string? CarrierId);
