namespace DingTalk.CardGateway.Storage;

/// <summary>
/// One update for everyone in the outbox, and what became of it. <see cref="RequiredScopes"/>: the permissions DingTalk
/// said the app lacks when it refused the last attempt (its 403's <c>accessdenieddetail.requiredScopes</c>); null when
/// the last error named none. <see cref="ResolvedAt"/>: when a dead letter was <see cref="OutboxStatus.Resolved"/> (by the
/// resend entry <see cref="ResolvedBy"/>) or <see cref="OutboxStatus.Dismissed"/>.
/// </summary>
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
