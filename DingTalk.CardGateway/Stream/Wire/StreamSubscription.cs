namespace DingTalk.CardGateway.Stream.Wire;

/// <summary>One thing the connection receives: <c>{"type": "CALLBACK", "topic": "/v1.0/card/instances/callback"}</c>.</summary>
public sealed record StreamSubscription(string Type, string Topic);
