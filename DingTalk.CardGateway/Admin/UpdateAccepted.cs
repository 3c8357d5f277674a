using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Admin;

/// <summary>An update still queued after the admin API's wait: DingTalk has not taken it yet; the outbox keeps trying.</summary>
public sealed record UpdateAccepted(long OutboxId, OutboxStatus Status, int Attempts, string? LastError);
