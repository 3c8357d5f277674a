using System.Net;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DingTalk.CardGateway.Admin;

/// <summary>
/// An operator's update goes through the outbox like every other, so it never overtakes (or is overtaken by) a
/// handler's update of the same card. The admin call then waits briefly for the outcome: 204 when DingTalk took
/// it, DingTalk's refusal as problem details, or 202 with the entry while it is still being retried.
/// </summary>
public static class OutboxDelivery
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    public static async Task<Results<NoContent, Accepted<UpdateAccepted>, ValidationProblem, ProblemHttpResult>> QueueAndWaitAsync(
        PendingCardUpdate update, StorageSession session, ICardStore cards, CardUpdates updates, IOutbox outbox, string location, CancellationToken cancellationToken)
    {
        await session.BeginAsync(cancellationToken);
        // The other kind's route would store the data in the wrong shape and send it to the wrong DingTalk API (which
        // refuses it): a card the gateway knows is only ever updated through its own kind's route.
        if (await cards.FindAsync(update.CardId, cancellationToken) is { } card && card.Kind != update.Kind)
        {
            await session.RollbackAsync();
            return WrongKind(card, "update it with PUT {0}/{1}");
        }

        var id = await updates.QueueAsync(update, afterAnswer: false, cancellationToken);

        // The look above is a plain read: on PostgreSQL a send of the other kind may store a card under the id between it
        // and the update's lock on the id, and the update then landed on that card. The card as the update locked it
        // decides (for a card it found, this read is the lock's own copy: no round trip), and the rollback takes the change and the entry back.
        if (await cards.FindAsync(update.CardId, cancellationToken) is { } locked && locked.Kind != update.Kind)
        {
            await session.RollbackAsync();
            return WrongKind(locked, "update it with PUT {0}/{1}");
        }

        await session.CommitAsync(cancellationToken);
        updates.Wake();
        return await AnswerAsync(id, outbox, location, cancellationToken);
    }

    /// <summary>
    /// Queues a resend of the stored card's whole state (<see cref="PendingCardUpdate.ResendOf"/>) and answers as an update
    /// does. Nothing changes in the stored card: the dispatcher reads it as the resend leaves, so it carries every update
    /// made until then. 404 when no card is stored under the id (nothing to resend), 409 for the other kind's card.
    /// </summary>
    public static async Task<Results<NoContent, Accepted<UpdateAccepted>, ValidationProblem, ProblemHttpResult>> ResendAndWaitAsync(
        string cardId, CardKind kind, StorageSession session, ICardStore cards, CardUpdates updates, IOutbox outbox, string location, CancellationToken cancellationToken)
    {
        await session.BeginAsync(cancellationToken);
        var card = await cards.FindAsync(cardId, cancellationToken);
        if (card is null || card.Kind != kind)
        {
            await session.RollbackAsync();
            return card is null ? NothingToResend(cardId) : WrongKind(card, "resend it with POST {0}/{1}/resend");
        }

        var id = await outbox.EnqueueAsync(PendingCardUpdate.ResendOf(cardId, kind), afterAnswer: false, cancellationToken);
        await session.CommitAsync(cancellationToken);
        updates.Wake();
        return await AnswerAsync(id, outbox, location, cancellationToken);
    }

    /// <summary>No card is stored under the id: the gateway holds no data to send (a card another system sent, or none).</summary>
    internal static ProblemHttpResult NothingToResend(string cardId) =>
        TypedResults.Problem(
            statusCode: StatusCodes.Status404NotFound,
            title: "Nothing to resend",
            detail: $"The gateway stores no card {cardId}, so it has no data to send again (a card another system sent, or a mistyped id). "
                + $"To stop counting its dead letters, dismiss them: DELETE /api/cards/{cardId}/dead-letters.");

    /// <summary>
    /// 409 for a route of the other kind of card; <paramref name="instead"/> says what to do, with the right route ({0})
    /// and the id ({1}).
    /// </summary>
    internal static ProblemHttpResult WrongKind(CardRecord card, string instead)
    {
        var route = card.Kind == CardKind.Robot ? "/api/robot-cards" : "/api/cards";
        return TypedResults.Problem(
            statusCode: StatusCodes.Status409Conflict,
            title: "Wrong kind of card",
            detail: $"{card.Id} is {(card.Kind == CardKind.Robot ? "a normal robot card" : "an advanced card")}: "
                + string.Format(System.Globalization.CultureInfo.InvariantCulture, instead, route, card.Id) + ".");
    }

    /// <summary>Where the queued entry stands after <see cref="Wait"/> at most: delivered, refused, or still being tried.</summary>
    private static async Task<Results<NoContent, Accepted<UpdateAccepted>, ValidationProblem, ProblemHttpResult>> AnswerAsync(
        long id, IOutbox outbox, string location, CancellationToken cancellationToken)
    {
        var entry = await outbox.WaitAsync(id, Wait, cancellationToken);
        return entry switch
        {
            { Status: OutboxStatus.Sent } => TypedResults.NoContent(),
            // Refused for good; resolved or dismissed since (a resend or an operator got there first): refused all the same.
            { Status: OutboxStatus.Dead or OutboxStatus.Resolved or OutboxStatus.Dismissed } dead => throw new DingTalkApiException(
                (HttpStatusCode)(dead.LastErrorStatus ?? 502), dead.LastErrorCode, DingTalkMessage(dead.LastError), DingTalkApiException.RequestIdIn(dead.LastError), dead.RequiredScopes),
            _ => TypedResults.Accepted(location, new UpdateAccepted(id, entry?.Status ?? OutboxStatus.Pending, entry?.Attempts ?? 0, entry?.LastError)),
        };
    }

    /// <summary>The entry's error is "DingTalk 400 code: message"; the problem details say the code already.</summary>
    private static string? DingTalkMessage(string? lastError) =>
        lastError?.Split(": ", 2) is [_, var message] ? message : lastError;
}
