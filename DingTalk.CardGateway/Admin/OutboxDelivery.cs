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
            var route = card.Kind == CardKind.Robot ? "/api/robot-cards" : "/api/cards";
            return TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: "Wrong kind of card",
                detail: $"{update.CardId} is {(card.Kind == CardKind.Robot ? "a normal robot card" : "an advanced card")}: update it with PUT {route}/{update.CardId}.");
        }

        var id = await updates.QueueAsync(update, afterAnswer: false, cancellationToken);
        await session.CommitAsync(cancellationToken);
        updates.Wake();

        var entry = await outbox.WaitAsync(id, Wait, cancellationToken);
        return entry switch
        {
            { Status: OutboxStatus.Sent } => TypedResults.NoContent(),
            { Status: OutboxStatus.Dead } dead => throw new DingTalkApiException(
                (HttpStatusCode)(dead.LastErrorStatus ?? 502), dead.LastErrorCode, DingTalkMessage(dead.LastError), null, dead.RequiredScopes),
            _ => TypedResults.Accepted(location, new UpdateAccepted(id, entry?.Status ?? OutboxStatus.Pending, entry?.Attempts ?? 0, entry?.LastError)),
        };
    }

    /// <summary>The entry's error is "DingTalk 400 code: message"; the problem details say the code already.</summary>
    private static string? DingTalkMessage(string? lastError) =>
        lastError?.Split(": ", 2) is [_, var message] ? message : lastError;
}
