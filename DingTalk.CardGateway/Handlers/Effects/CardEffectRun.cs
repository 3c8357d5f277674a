namespace DingTalk.CardGateway.Handlers.Effects;

/// <summary>One run of an effect a committed click queued.</summary>
/// <param name="IdempotencyKey">
/// The same for every run of this effect, whatever replica runs it: the click's callback id and the effect's place in
/// the handler's result (<c>{callbackId}:{index}</c>). Different for every other effect.
/// </param>
/// <param name="CallbackId">The click that queued it.</param>
/// <param name="CardId">The card clicked.</param>
/// <param name="Effect">The effect's name (its type's name).</param>
/// <param name="Attempt">1 for the first run, 2 and on for retries.</param>
/// <param name="Payload">What the handler gave it.</param>
public sealed record CardEffectRun<TPayload>(string IdempotencyKey, string CallbackId, string CardId, string Effect, int Attempt, TPayload Payload);
