using System.Globalization;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DingTalk.CardGateway.Admin;

/// <summary>
/// Callbacks as recorded: one by the id every callback log line names (<c>CallbackId</c>), or a card's whole history, or
/// every card's, a page at a time, newest first, one user's or one outcome's only when asked.
/// </summary>
public static class CallbackAdminEndpoints
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 500;

    /// <summary>The longest <c>since</c> read: an ISO 8601 date-time with seven decimals and an offset is 33 characters.</summary>
    private const int MaxSinceLength = 40;

    public static RouteGroupBuilder MapCallbackAdmin(this RouteGroupBuilder api)
    {
        api.MapGet("/callbacks", EveryCardAsync)
            .WithSummary("Every card's callbacks, newest first, a page at a time; one outcome's (Unhandled: the clicks no handler claims), or those since a time, when asked")
            .WithDescription("limit: 1–500 (100); before: the next of the previous page (null on the last); outcome: Pending, Handled, Unhandled, HandlerFailed or Overran; since: an ISO 8601 date-time (UTC unless it gives an offset), the oldest receipt time listed. Callbacks older than Gateway:Storage:Retention are purged. GET /api/handlers groups the Unhandled ones with the registration that would claim them.")
            .ProducesValidationProblem();
        api.MapGet("/callbacks/{callbackId}", FindAsync)
            .WithSummary("One callback as recorded, by the CallbackId its log lines name")
            .WithDescription("Who clicked what on which card, over which transport, which handler ran, how it ended (outcome) and the answer DingTalk got (answerJson, verbatim). 404 for an id not recorded, or older than Gateway:Storage:Retention; 400 for one no callback could have (empty, over 128 characters, a control character).")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/cards/{outTrackId}/callbacks", HistoryAsync)
            .WithSummary("A card's callbacks, newest first, a page at a time; one user's, or one outcome's, when asked")
            .WithDescription("limit: 1–500 (100); before: the next of the previous page (null on the last); userId: that user's clicks only; outcome: Pending, Handled, Unhandled, HandlerFailed or Overran. Also for a card the gateway did not create but got callbacks for; 404 when it has neither the card nor a callback of it (or they are older than Gateway:Storage:Retention).")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound);
        return api;
    }

    private static async Task<Results<Ok<CallbackRecord>, ValidationProblem, ProblemHttpResult>> FindAsync(
        string callbackId, ICallbackStore callbacks, CancellationToken cancellationToken)
    {
        if (!CallbackCursor.IsId(callbackId))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["callbackId"] = [$"A callback id is 1 to {CallbackCursor.MaxIdLength} characters without control characters, as a log line's CallbackId gives it (the gateway's are at most 42: letters, digits, '-', '_' and '.')."],
            });
        }

        return await callbacks.FindAsync(callbackId, TimeSpan.Zero, cancellationToken) is { } callback
            ? TypedResults.Ok(callback)
            : TypedResults.Problem(
                statusCode: StatusCodes.Status404NotFound,
                title: "Callback not found",
                detail: $"No callback {callbackId} is recorded: not recorded, or older than Gateway:Storage:Retention (retention purges callbacks received before it).");
    }

    private static async Task<Results<Ok<CallbackPage>, ValidationProblem, ProblemHttpResult>> HistoryAsync(
        string outTrackId,
        int? limit,
        string? before,
        string? userId,
        [AllowedNames<CallbackOutcome>] string? outcome,
        ICallbackStore callbacks,
        ICardStore cards,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (userId is not null && (userId.Length is 0 or > CardActionParser.MaxIdLength))
        {
            errors["userId"] = [$"A DingTalk user id, 1 to {CardActionParser.MaxIdLength} characters."];
        }

        if (ReadQuery(limit, before, outcome, since: null, errors) is not { } query || errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var page = await callbacks.HistoryAsync(outTrackId, query with { UserId = userId }, cancellationToken);
        if (page.Callbacks.Count == 0
            && query.Before is null
            && await cards.FindAsync(outTrackId, cancellationToken) is null
            && (userId is null && query.Outcome is null
                || (await callbacks.HistoryAsync(outTrackId, new CallbackHistoryQuery(1), cancellationToken)).Callbacks.Count == 0))
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status404NotFound,
                title: "Card not found",
                detail: $"The gateway has no card {outTrackId} and no callback for it: none recorded, or all older than Gateway:Storage:Retention.");
        }

        return TypedResults.Ok(page);
    }

    private static async Task<Results<Ok<CallbackPage>, ValidationProblem>> EveryCardAsync(
        int? limit, string? before, [AllowedNames<CallbackOutcome>] string? outcome, string? since, ICallbackStore callbacks, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        return ReadQuery(limit, before, outcome, since, errors) is { } query && errors.Count == 0
            ? TypedResults.Ok(await callbacks.HistoryAsync(null, query, cancellationToken))
            : TypedResults.ValidationProblem(errors);
    }

    /// <summary>A history page's query as the caller asked for it; null, with <paramref name="errors"/> naming each parameter it cannot be.</summary>
    private static CallbackHistoryQuery? ReadQuery(int? limit, string? before, string? outcome, string? since, Dictionary<string, string[]> errors)
    {
        if (limit is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"From 1 to {MaxLimit} callbacks a page, not {limit}."];
        }

        CallbackCursor? cursor = null;
        if (before is not null)
        {
            if (CallbackCursor.TryDecode(before, out var decoded))
            {
                cursor = decoded;
            }
            else
            {
                errors["before"] = ["The next of the previous page, as it gave it (leave before out for the newest callbacks)."];
            }
        }

        CallbackOutcome? wanted = null;
        if (outcome is not null)
        {
            // By name only: Enum.TryParse also takes numbers ("1", "-7") and lists ("Handled,Unhandled").
            if (outcome.Length > 0 && outcome.All(char.IsAsciiLetter) && Enum.TryParse<CallbackOutcome>(outcome, ignoreCase: true, out var parsed))
            {
                wanted = parsed;
            }
            else
            {
                errors["outcome"] = [$"One of {string.Join(", ", Enum.GetNames<CallbackOutcome>())}."];
            }
        }

        DateTimeOffset? from = null;
        if (since is not null)
        {
            if (TryReadSince(since, out var parsed))
            {
                from = parsed;
            }
            else
            {
                errors["since"] = [SinceError];
            }
        }

        return errors.Count == 0 ? new CallbackHistoryQuery(limit ?? DefaultLimit, cursor, Outcome: wanted, Since: from) : null;
    }

    internal const string SinceError = "An ISO 8601 date-time, such as 2026-11-28T09:00:00Z (UTC unless it gives an offset).";

    /// <summary>A <c>since</c>: an ISO 8601 date-time, UTC unless it gives an offset.</summary>
    internal static bool TryReadSince(string text, out DateTimeOffset since)
    {
        since = default;
        return text.Length is > 0 and <= MaxSinceLength
            && char.IsAsciiDigit(text[0])
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out since);
    }
}
