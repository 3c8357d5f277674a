namespace DingTalk.CardGateway.Admin;

/// <summary>
/// The answer of <c>POST /api/cards/resend?undelivered=dead</c>: the cards of the page whose whole stored state was queued
/// to be sent again, each with its resend's outbox entry.
/// </summary>
/// <param name="Cards">Each card of the page, with its resend's outbox entry.</param>
/// <param name="Next">The <c>after</c> of the next page; left out on the last page.</param>
public sealed record ResendsQueued(IReadOnlyList<QueuedResend> Cards, string? Next);
