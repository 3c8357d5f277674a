namespace DingTalk.CardGateway.Storage;

/// <summary>
/// One effect a committed click queued (a handler's <c>AndAfterCommit</c>), as <c>GET /api/cards/{id}</c> shows it:
/// never its payload, which may hold what the effect needs to call another system.
/// </summary>
/// <param name="Id">The effect's row: what <c>POST /api/effects/{id}/retry</c> and <c>DELETE /api/effects/{id}</c> take.</param>
/// <param name="CallbackId">The click that queued it.</param>
/// <param name="CardId">The card whose click queued it.</param>
/// <param name="Effect">The effect's name.</param>
/// <param name="IdempotencyKey">What every run of it is given: <c>{callbackId}:{index}</c>.</param>
/// <param name="Status">Pending, done or dead.</param>
/// <param name="Attempts">Runs begun so far.</param>
/// <param name="CreatedAt">When its click committed it.</param>
/// <param name="NextAttemptAt">When a pending effect is due (or, while a replica runs it, when that replica's hold ends).</param>
/// <param name="DoneAt">When it ran to the end (or, dismissed, when an operator dismissed it).</param>
/// <param name="LastError">What its last failed run threw, or why it was given up.</param>
/// <param name="RetriedAt">When an operator last ran it again after it was dead (<c>POST /api/effects/{id}/retry</c>): its give-up clock counts from then.</param>
public sealed record EffectEntry(
    long Id,
    string CallbackId,
    string CardId,
    string Effect,
    string IdempotencyKey,
    EffectStatus Status,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset? DoneAt,
    string? LastError,
    DateTimeOffset? RetriedAt = null);
