namespace DingTalk.CardGateway.Tests.Handlers.Samples;

/// <summary>One incident card's state: <c>acknowledged</c> or <c>resolved</c>, and who owns it.</summary>
public sealed record Incident(string Status, string Owner);
