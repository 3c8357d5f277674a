namespace DingTalk.CardGateway.Storage;

/// <summary>One update for everyone in the outbox, and what became of it.</summary>
/// <param name="Id">The outbox entry's id.</param>
/// <param name="CardId">The card it updates.</param>
/// <param name="Status">Where it stands: pending (being sent or retried), sent, dead (DingTalk refused it, or it was given up), resolved or dismissed.</param>
/// <param name="Attempts">Sends tried so far.</param>
/// <param name="CreatedAt">When it was queued.</param>
/// <param name="SentAt">When DingTalk took it.</param>
/// <param name="LastError">Why its last attempt failed.</param>
/// <param name="LastErrorStatus">The HTTP status DingTalk answered its last failed attempt with.</param>
/// <param name="LastErrorCode">DingTalk's error code for its last failed attempt.</param>
/// <param name="RequiredScopes">
/// The permissions DingTalk said the app lacks when it refused the last attempt (its 403's
/// <c>accessdenieddetail.requiredScopes</c>); left out when the last error named none.
/// </param>
/// <param name="ResolvedAt">When a dead letter was resolved (by the resend entry <c>resolvedBy</c>) or dismissed.</param>
/// <param name="ResolvedBy">The id of the resend entry that resolved this dead letter.</param>
public sealed record OutboxEntry(
    long Id,
    string CardId,
    OutboxStatus Status,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset? SentAt,
    string? LastError,
    int? LastErrorStatus = null,
    string? LastErrorCode = null,
    IReadOnlyList<string>? RequiredScopes = null,
    DateTimeOffset? ResolvedAt = null,
    long? ResolvedBy = null);
