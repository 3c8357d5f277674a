namespace DingTalk.CardGateway.Admin;

/// <summary>
/// What an operator may choose as a card's id (<c>outTrackId</c>, <c>cardBizId</c>): it becomes a path segment of
/// <c>/api/cards/{id}</c>, so besides spaces and control characters it may not hold <c>/</c> (sent as <c>%2F</c>,
/// which routing leaves encoded: the card could never be read or updated) nor be <c>.</c> or <c>..</c> (clients
/// resolve those segments away).
/// </summary>
public static class CardIdRule
{
    public static bool IsValid(string id) =>
        id.Length is > 0 and <= 128
        && id is not ("." or "..")
        && !id.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c == '/');

    public static string Refusal(string field) =>
        $"{field} must be 1 to 128 characters without spaces, control characters or '/', and not '.' or '..'.";
}
