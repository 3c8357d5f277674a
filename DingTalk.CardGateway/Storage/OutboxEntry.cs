namespace DingTalk.CardGateway.Storage;

/// <summary>One update for everyone in the outbox, and what became of it.</summary>
public sealed record OutboxEntry(
    long Id,
    string CardId,
    OutboxStatus Status,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset? SentAt,
    string? LastError,
    int? LastErrorStatus = null,
    string? LastErrorCode = null);
