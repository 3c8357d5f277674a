using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Admin;

/// <summary>
/// <c>GET /api/cards/{outTrackId}</c>: the card as stored, the updates for everyone not yet delivered (pending, or
/// dead-lettered with DingTalk's reason), and the card's recent callbacks.
/// </summary>
/// <param name="Card">
/// The card as stored; left out for a card this gateway did not create but was asked to update, or got callbacks for
/// (a card another system sent with its route key).
/// </param>
/// <param name="Undelivered">Its updates for everyone that DingTalk has not taken yet: pending, or dead-lettered with DingTalk's reason.</param>
/// <param name="Callbacks">Its last 100 callbacks, oldest first.</param>
/// <param name="Effects">
/// The effects its clicks queued that are not done — pending (being run or waiting for a retry) or dead — with their
/// attempts and last error.
/// </param>
/// <param name="CallbacksNext">
/// When the card has callbacks older than the last 100 shown, the <c>before</c> of
/// <c>GET /api/cards/{outTrackId}/callbacks</c> that pages on from them; left out otherwise.
/// </param>
public sealed record CardStateResponse(
    CardRecord? Card,
    IReadOnlyList<OutboxEntry> Undelivered,
    IReadOnlyList<CallbackRecord> Callbacks,
    IReadOnlyList<EffectEntry> Effects,
    string? CallbacksNext = null);
