namespace DingTalk.CardGateway.Handlers.Effects;

/// <summary>An effect a handler's result asks for: the registered effect's name and its payload, already as JSON.</summary>
public sealed record AfterCommitEffect(string Effect, string Payload);
