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

    public static async Task<Results<NoContent, Accepted<UpdateAccepted>, ValidationProblem>> QueueAndWaitAsync(
        PendingCardUpdate update, StorageSession session, CardUpdates updates, IOutbox outbox, string location, CancellationToken cancellationToken)
    {
        await session.BeginAsync(cancellationToken);
        var id = await updates.QueueAsync(update, afterAnswer: false, cancellationToken);
        await session.CommitAsync(cancellationToken);
        updates.Wake();

        var entry = await outbox.WaitAsync(id, Wait, cancellationToken);
        return entry switch
        {
            { Status: OutboxStatus.Sent } => TypedResults.NoContent(),
            { Status: OutboxStatus.Dead } dead => throw new DingTalkApiException(
                (HttpStatusCode)(dead.LastErrorStatus ?? 502), dead.LastErrorCode, DingTalkMessage(dead.LastError), null),
            _ => TypedResults.Accepted(location, new UpdateAccepted(id, entry?.Status ?? OutboxStatus.Pending, entry?.Attempts ?? 0, entry?.LastError)),
        };
    }

    /// <summary>The entry's error is "DingTalk 400 code: message"; the problem details say the code already.</summary>
    private static string? DingTalkMessage(string? lastError) =>
        lastError?.Split(": ", 2) is [_, var message] ? message : lastError;
}
