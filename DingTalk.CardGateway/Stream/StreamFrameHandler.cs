using System.Diagnostics.CodeAnalysis;
using System.Text;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Stream.Wire;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Stream;

/// <summary>
/// Answers the frames that carry work: a card callback goes through the one <see cref="CallbackPipeline"/> (the
/// socket is authenticated, so there is no signature to check; <c>messageId</c> is the delivery stamp that
/// deduplicates redeliveries) and is answered <c>{"response": …}</c>; an EVENT is acknowledged; any other topic gets 404.
/// </summary>
public sealed partial class StreamFrameHandler(
    CallbackPipeline pipeline,
    GatewayDatabase database,
    RefusedRequests refusedRequests,
    IOptionsMonitor<CallbackHandlingOptions> options,
    TimeProvider clock,
    ILogger<StreamFrameHandler> logger)
{
    public const string EventAcknowledged = """{"status":"SUCCESS"}""";

    /// <summary>
    /// What is left of the answer budget (<c>Gateway:Callbacks:HandlerBudget</c>) of a frame read at
    /// <paramref name="arrivedAt"/>; zero once it is spent.
    /// </summary>
    public TimeSpan BudgetLeft(long arrivedAt) => AnswerTimeline.BudgetLeft(clock, arrivedAt, options.CurrentValue.HandlerBudget);

    /// <summary>
    /// Answers the frame and handles its click. Completes once the click is through — committed or given up — not only
    /// answered: a handler that overran its budget is answered <c>{}</c> at it and still running, and the connection counts
    /// it against <c>DingTalk:Stream:MaxFramesInFlight</c> until it ends.
    /// </summary>
    /// <param name="frame">A CALLBACK or EVENT frame.</param>
    /// <param name="arrivedAt">The <see cref="TimeProvider"/>'s timestamp as the frame was read off the socket.</param>
    /// <param name="send">Writes the answer; completes once it is written (or could not be).</param>
    /// <param name="cancellationToken">Cancelled when the socket is gone.</param>
    public Task HandleAsync(StreamFrame frame, long arrivedAt, Func<StreamAck, Task> send, CancellationToken cancellationToken)
    {
        switch (frame.Type, frame.Topic)
        {
            case (StreamTopics.Callback, StreamTopics.CardCallback):
                return CardCallbackAsync(frame, arrivedAt, send, cancellationToken);
            case (StreamTopics.Event, _):
                Log.EventAcknowledged(logger, frame.Topic, frame.MessageId);
                return send(StreamAck.Ok(frame.MessageId, EventAcknowledged));
            default:
                Log.NoHandler(logger, frame.Type, frame.Topic, frame.MessageId);
                return send(StreamAck.Error(404, frame.MessageId, $"This gateway handles no {frame.Type} frames on topic '{frame.Topic}'."));
        }
    }

    /// <summary>
    /// A frame whose whole answer budget went by while every frame slot was busy: answered now, as the budget demands —
    /// a card callback <c>{}</c>, so DingTalk shows the user no error — and its click handled once <paramref name="turn"/>
    /// (its slot) has come, not before: the limit holds however the frames' answers went. Completes once the click is
    /// through. A frame that runs no handler (an EVENT, another topic, a callback that cannot be read) is answered as ever.
    /// </summary>
    /// <param name="frame">A CALLBACK or EVENT frame.</param>
    /// <param name="arrivedAt">The <see cref="TimeProvider"/>'s timestamp as the frame was read off the socket.</param>
    /// <param name="send">Writes the answer; completes once it is written (or could not be).</param>
    /// <param name="turn">Waits until the frame may be handled (its slot); called only for a click.</param>
    public async Task AnswerBeforeTurnAsync(StreamFrame frame, long arrivedAt, Func<StreamAck, Task> send, Func<Task> turn)
    {
        if ((frame.Type, frame.Topic) != (StreamTopics.Callback, StreamTopics.CardCallback))
        {
            await HandleAsync(frame, arrivedAt, send, CancellationToken.None);
            return;
        }

        if (!TryParse(frame, out var action, out var refused))
        {
            await send(refused);
            return;
        }

        // Kept on disk before its {} leaves, as DingTalk will not push it again; handed to the pipeline as its answer starts
        // to leave, so a stop beginning meanwhile already waits for it.
        var kept = await pipeline.KeepAnsweredAsync(action);
        var answered = send(Answer(frame, CardCallbackResponse.Empty.ToJson()));
        await pipeline.HandleAnsweredAsync(
            action,
            arrivedAt,
            async () =>
            {
                await answered;
                await turn();
            },
            kept);
    }

    private async Task CardCallbackAsync(StreamFrame frame, long arrivedAt, Func<StreamAck, Task> send, CancellationToken cancellationToken)
    {
        if (!TryParse(frame, out var action, out var refused))
        {
            await send(refused);
            return;
        }

        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        CallbackHandling handling;
        try
        {
            try
            {
                handling = await pipeline.HandleThroughAsync(action, arrivedAt, answered.Task, cancellationToken);
            }
            catch (Exception ex) when (StorageFailure.Of(ex) is { } failure)
            {
                // The database failed (a full disk, a server gone or read-only) and nothing was committed: left unanswered, the
                // frame is pushed again, as an HTTP click is answered 503 to be retried; the database's words say what is wrong,
                // once a run, as for HTTP (4141 ends it). (A value it could not store is refused by the parser first: ids are
                // bounded, and no NUL gets through.)
                if (refusedRequests.Failed())
                {
                    Log.StorageFailed(logger, frame.MessageId, failure.GetType().Name, failure.Message);
                }

                database.Writes.Failed(failure); // readiness says it too, a database that refuses writes (StorageHealthCheck)

                return;
            }

            await send(Answer(frame, handling.Reply.AnswerJson));
        }
        finally
        {
            answered.TrySetResult();
        }

        await handling.Through;
    }

    /// <summary>The card callback the frame carries, or the 400 that says why there is none.</summary>
    private bool TryParse(StreamFrame frame, [NotNullWhen(true)] out CardAction? action, [NotNullWhen(false)] out StreamAck? refused)
    {
        if (CardActionParser.TryParse(Encoding.UTF8.GetBytes(frame.Data), CallbackTransport.Stream, frame.MessageId, out action, out var problem))
        {
            refused = null;
            return true;
        }

        Log.CallbackRefused(logger, frame.MessageId, problem);
        refused = StreamAck.Error(400, frame.MessageId, problem);
        return false;
    }

    /// <summary>DingTalk reads the clicker's update only inside <c>response</c>; a bare update is ignored.</summary>
    private static StreamAck Answer(StreamFrame frame, string answerJson) => StreamAck.Ok(frame.MessageId, $$"""{"response":{{answerJson}}}""");

    private static partial class Log
    {
        [LoggerMessage(5021, LogLevel.Warning, "Stream card callback {MessageId} refused with 400: {Problem:l}")]
        public static partial void CallbackRefused(ILogger logger, string messageId, string problem);

        [LoggerMessage(5022, LogLevel.Information, "No handler for Stream {Type} frames on topic '{Topic}' ({MessageId}); answered 404")]
        public static partial void NoHandler(ILogger logger, string type, string topic, string messageId);

        [LoggerMessage(5024, LogLevel.Warning, "Stream card callback {MessageId} not handled: the database failed ({ExceptionType}: {Reason:l}); left unanswered, so DingTalk pushes it again (within about a minute)")]
        public static partial void StorageFailed(ILogger logger, string messageId, string exceptionType, string reason);

        [LoggerMessage(5023, LogLevel.Debug, "Stream EVENT on topic '{Topic}' ({MessageId}) acknowledged")]
        public static partial void EventAcknowledged(ILogger logger, string topic, string messageId);
    }
}
