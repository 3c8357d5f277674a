using System.ComponentModel.DataAnnotations;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DingTalk.CardGateway.Admin;

/// <summary>
/// Putting dead letters right once their cause is fixed (a permission granted, the robot added back): resend a card's whole
/// stored state through the outbox, which resolves its older dead letters when DingTalk takes it; or dismiss the dead
/// letters of an id the gateway holds no card for. Either way they stop counting as dead.
/// </summary>
public static partial class DeadLetterAdminEndpoints
{
    public static RouteGroupBuilder MapDeadLetterAdmin(this RouteGroupBuilder api)
    {
        api.MapPost("/cards/{outTrackId}/resend", (string outTrackId, HttpContext http, StorageSession session, ICardStore cards, CardUpdates updates, IOutbox outbox, ILoggerFactory logs, CancellationToken cancellationToken) =>
                ResendAsync(outTrackId, CardKind.Advanced, http, session, cards, updates, outbox, logs, cancellationToken))
            .WithSummary("Send the advanced card's whole stored state again (its card data and every user's private data), through the outbox")
            .WithDescription("Once the cause of a dead letter is fixed. 204 once DingTalk has taken it: the card's older dead letters are then resolved and no longer count as dead; 202 while it is still retried; DingTalk's refusal if it is dead-lettered too. 404: no card stored under the id (nothing to resend: dismiss its dead letters instead); 409 for a robot card.")
            .ProducesDingTalkProblems()
            .ProducesProblem(StatusCodes.Status409Conflict);
        api.MapPost("/robot-cards/{cardBizId}/resend", (string cardBizId, HttpContext http, StorageSession session, ICardStore cards, CardUpdates updates, IOutbox outbox, ILoggerFactory logs, CancellationToken cancellationToken) =>
                ResendAsync(cardBizId, CardKind.Robot, http, session, cards, updates, outbox, logs, cancellationToken))
            .WithSummary("Send the robot card's whole stored state again (its StandardCard JSON and every user's private data), through the outbox")
            .WithDescription("As POST /api/cards/{outTrackId}/resend, for a normal robot card; 409 for an advanced card.")
            .ProducesDingTalkProblems()
            .ProducesProblem(StatusCodes.Status409Conflict);
        api.MapPost("/cards/resend", ResendPageAsync)
            .WithSummary("Resend every stored card with dead-lettered updates, a page at a time")
            .WithDescription("undelivered=dead (required); limit: 1–500 (100); after: the next of the previous page. Queues a resend of each card of the page (as POST /api/cards/{id}/resend) and answers 202 at once with each resend's outbox entry; GET /api/cards?undelivered=dead shows what is left.")
            .ProducesValidationProblem();
        api.MapDelete("/cards/{cardId}/dead-letters", DismissAsync)
            .WithSummary("Dismiss the dead-lettered updates of an id (either kind): they stop counting as dead, and nothing is sent")
            .WithDescription("For an id the gateway stores no card for (another system's card: nothing to resend), or a card deleted in the chat. 200 with the count dismissed; 404 when the id has no dead letters.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return api;
    }

    private static async Task<Results<NoContent, Accepted<UpdateAccepted>, ValidationProblem, ProblemHttpResult>> ResendAsync(
        string cardId,
        CardKind kind,
        HttpContext http,
        StorageSession session,
        ICardStore cards,
        CardUpdates updates,
        IOutbox outbox,
        ILoggerFactory logs,
        CancellationToken cancellationToken)
    {
        var route = kind == CardKind.Robot ? "/api/robot-cards" : "/api/cards";
        Log.ResendRequested(logs.CreateLogger(typeof(DeadLetterAdminEndpoints)), cardId, http.Connection.RemoteIpAddress?.ToString());
        return await OutboxDelivery.ResendAndWaitAsync(
            cardId, kind, session, cards, updates, outbox, $"{route}/{Uri.EscapeDataString(cardId)}", cancellationToken);
    }

    /// <remarks>
    /// One transaction for the page's resends; it does not wait for them (a page may hold hundreds of cards, each sent
    /// under DingTalk's rate limit). Cards whose resend is delivered drop out of the filter, so paging on by id still
    /// reaches every card that had dead letters when the first page was asked for.
    /// </remarks>
    private static async Task<Results<Accepted<ResendsQueued>, ValidationProblem>> ResendPageAsync(
        CardListing listing,
        StorageSession session,
        IOutbox outbox,
        CardUpdates updates,
        HttpContext http,
        ILoggerFactory logs,
        int? limit,
        string? after,
        [Required, AllowedValues("dead")] string? undelivered,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (limit is < 1 or > CardListing.MaxLimit)
        {
            errors["limit"] = [$"From 1 to {CardListing.MaxLimit} cards a page, not {limit}."];
        }

        if (!string.Equals(undelivered, "dead", StringComparison.OrdinalIgnoreCase))
        {
            errors["undelivered"] = ["dead: the cards with dead-lettered updates are the ones to resend (say so, so that no one resends every card by mistake)."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var page = await listing.PageAsync(after, limit ?? CardListing.DefaultLimit, OutboxStatus.Dead, cancellationToken);
        var queued = new List<QueuedResend>(page.Cards.Count);
        await session.BeginAsync(cancellationToken);
        foreach (var card in page.Cards)
        {
            queued.Add(new QueuedResend(card.Id, card.Kind, await outbox.EnqueueAsync(PendingCardUpdate.ResendOf(card.Id, card.Kind), afterAnswer: false, cancellationToken)));
        }

        await session.CommitAsync(cancellationToken);
        updates.Wake();
        Log.PageResent(logs.CreateLogger(typeof(DeadLetterAdminEndpoints)), queued.Count, after is null ? "the first page" : "the page after " + after, after, http.Connection.RemoteIpAddress?.ToString());
        return TypedResults.Accepted("/api/cards?undelivered=dead", new ResendsQueued(queued, page.Next));
    }

    private static async Task<Results<Ok<DeadLettersDismissed>, ProblemHttpResult>> DismissAsync(
        string cardId, IOutbox outbox, HttpContext http, ILoggerFactory logs, CancellationToken cancellationToken)
    {
        var dismissed = await outbox.DismissDeadAsync(cardId, cancellationToken);
        if (dismissed == 0)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status404NotFound,
                title: "No dead letters",
                detail: $"{cardId} has no dead-lettered updates to dismiss (GET /api/cards/{cardId} shows its undelivered ones).");
        }

        Log.Dismissed(logs.CreateLogger(typeof(DeadLetterAdminEndpoints)), dismissed, cardId, http.Connection.RemoteIpAddress?.ToString());
        return TypedResults.Ok(new DeadLettersDismissed(cardId, dismissed));
    }

    private static partial class Log
    {
        [LoggerMessage(4109, LogLevel.Information, "An operator (admin key, from {RemoteIp}) dismissed {DeadLetters} dead-lettered updates of card {CardId}: they no longer count as dead, and nothing was sent again")]
        public static partial void Dismissed(ILogger logger, int deadLetters, string cardId, string? remoteIp);

        [LoggerMessage(4110, LogLevel.Information, "An operator (admin key, from {RemoteIp}) asked to resend card {CardId}'s whole stored state")]
        public static partial void ResendRequested(ILogger logger, string cardId, string? remoteIp);

        // Page: which one in words, as After is null for the first.
        [LoggerMessage(4111, LogLevel.Information, "An operator (admin key, from {RemoteIp}) queued resends of {Cards} cards with dead-lettered updates ({Page:l})")]
        public static partial void PageResent(ILogger logger, int cards, string page, [TagName("After")] string? after, string? remoteIp);
    }
}
