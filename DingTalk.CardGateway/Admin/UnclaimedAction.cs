namespace DingTalk.CardGateway.Admin;

/// <summary>
/// Clicks no handler claimed, alike in what a handler is chosen by: the card's template (null for a card this gateway did
/// not send), the type, <c>params.action</c>, and (those of the example, or of every one for clicks without a
/// <c>params.action</c>) the <c>actionIds</c>; how many, when, the latest of them by id, and the registration warning 3101 gives
/// for it — or, when a registration claims it now (added since), that handler instead.
/// </summary>
public sealed record UnclaimedAction(
    string? TemplateId,
    string Type,
    string? Action,
    IReadOnlyList<string> ActionIds,
    int Count,
    DateTimeOffset FirstSeen,
    DateTimeOffset LastSeen,
    string ExampleCallbackId,
    string? Registration,
    string? ClaimedBy);
