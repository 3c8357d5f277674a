namespace DingTalk.CardGateway.Admin;

/// <summary>
/// The answer of <c>POST /api/cards/resend?undelivered=dead</c>: the cards of the page whose whole stored state was queued
/// to be sent again, each with its resend's outbox entry; <paramref name="Next"/> is the <c>after</c> of the next page
/// (null on the last).
/// </summary>
public sealed record ResendsQueued(IReadOnlyList<QueuedResend> Cards, string? Next);
