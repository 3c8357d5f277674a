using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Admin;

/// <summary>
/// <c>GET /api/cards/{outTrackId}</c>: the card as stored, the updates for everyone not yet delivered (pending, or
/// dead-lettered with DingTalk's reason), and the card's recent callbacks.
/// </summary>
public sealed record CardStateResponse(CardRecord Card, IReadOnlyList<OutboxEntry> Undelivered, IReadOnlyList<CallbackRecord> Callbacks);
