namespace DingTalk.CardGateway.Handlers.Effects;

/// <summary>
/// Work a handler asks for once its click is committed (<see cref="CardActionResult.AndAfterCommit{TEffect, TPayload}"/>):
/// a ticket to create, a webhook to call. Run by the effect dispatcher at least once, in a DI scope of its own, with the
/// payload the handler gave; retried with the outbox's backoff when it throws, until
/// <c>Gateway:Outbox:GiveUpAfter</c>; given up at once when it throws <see cref="PermanentEffectFailureException"/>.
/// Register it with <c>services.AddCardEffect&lt;TEffect, TPayload&gt;()</c>.
/// </summary>
/// <typeparam name="TPayload">A JSON-serializable record: what the effect needs, stored with the click.</typeparam>
public interface ICardEffect<TPayload>
{
    /// <summary>
    /// Does the work. A run may be repeated (a retry after a failure, or after this process died mid-run): pass
    /// <see cref="CardEffectRun{TPayload}.IdempotencyKey"/> on so the system called can tell a repeat from a new request.
    /// </summary>
    /// <param name="run">The payload and where it came from.</param>
    /// <param name="cancellationToken">Cancelled past <c>Gateway:Outbox:EffectTimeout</c>, or when a stopping gateway's grace is over.</param>
    Task RunAsync(CardEffectRun<TPayload> run, CancellationToken cancellationToken);
}
