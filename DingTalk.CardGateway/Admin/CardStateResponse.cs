using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Admin;

/// <summary>
/// <c>GET /api/cards/{outTrackId}</c>: the card as stored, the updates for everyone not yet delivered (pending, or
/// dead-lettered with DingTalk's reason), and the card's recent callbacks. <see cref="Card"/> is null (left out of the JSON) for a card this
/// gateway did not create but was asked to update, or got callbacks for (a card another system sent with its route key).
/// </summary>
/// <see cref="Effects"/>: the effects its clicks queued that are not done — pending (being run or waiting for a retry) or
/// dead — with their attempts and last error. <see cref="CallbacksNext"/>: when the card has callbacks older than the
/// last 100 shown, the <c>before</c> of <c>GET /api/cards/{outTrackId}/callbacks</c> that pages on from them (left out
/// of the JSON otherwise).
public sealed record CardStateResponse(
    CardRecord? Card,
    IReadOnlyList<OutboxEntry> Undelivered,
    IReadOnlyList<CallbackRecord> Callbacks,
    IReadOnlyList<EffectEntry> Effects,
    string? CallbacksNext = null);
