using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Admin;

/// <summary>One card's resend, queued: <c>GET /api/cards/{id}</c> shows how it went.</summary>
public sealed record QueuedResend(string Id, CardKind Kind, long OutboxId);
