namespace DingTalk.CardGateway.Storage;

/// <summary>
/// Clicks no handler claimed, alike in what a handler is chosen by: the card's template (null for a card this gateway did
/// not send), the callback's type, its <c>params.action</c>, and for clicks without one their <c>actionIds</c>.
/// <paramref name="Example"/> is the latest of them by receipt time (of two in one millisecond, the greater id), as recorded.
/// </summary>
public sealed record UnhandledActionGroup(string? TemplateId, int Count, DateTimeOffset FirstSeen, DateTimeOffset LastSeen, CallbackRecord Example);
