namespace DingTalk.CardGateway.Handlers.Effects;

/// <summary>An effect registered with <c>AddCardEffect</c>: its name, and how to run it from its stored payload.</summary>
/// <param name="Effect">The name results and the database know it by: the effect type's name.</param>
/// <param name="EffectType">The effect class, resolved per run from a scope of its own.</param>
/// <param name="RunAsync">Runs it: the run's scope, the stored run (payload as JSON), its token.</param>
public sealed record CardEffectRegistration(string Effect, Type EffectType, Func<IServiceProvider, CardEffectRun<string>, CancellationToken, Task> RunAsync);
