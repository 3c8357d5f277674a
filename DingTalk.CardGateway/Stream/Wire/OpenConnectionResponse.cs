namespace DingTalk.CardGateway.Stream.Wire;

/// <summary>Where to connect (<c>wss://…/connect</c>) and the single-use ticket (about 90 s) to connect with.</summary>
public sealed record OpenConnectionResponse(string? Endpoint, string? Ticket);
