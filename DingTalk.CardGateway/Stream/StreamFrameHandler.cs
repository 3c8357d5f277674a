using System.Text;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Stream.Wire;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Stream;

/// <summary>
/// Answers the frames that carry work: a card callback goes through the one <see cref="CallbackPipeline"/> (the
/// socket is authenticated, so there is no signature to check; <c>messageId</c> is the delivery stamp that
/// deduplicates redeliveries) and is answered <c>{"response": …}</c>; an EVENT is acknowledged; any other topic gets 404.
/// </summary>
public sealed partial class StreamFrameHandler(
    CallbackPipeline pipeline, IOptionsMonitor<CallbackHandlingOptions> options, TimeProvider clock, ILogger<StreamFrameHandler> logger)
{
    public const string EventAcknowledged = """{"status":"SUCCESS"}""";

    /// <summary>
    /// What is left of the answer budget (<c>Gateway:Callbacks:HandlerBudget</c>) of a frame read at
    /// <paramref name="arrivedAt"/>; zero once it is spent.
    /// </summary>
    public TimeSpan BudgetLeft(long arrivedAt) => AnswerTimeline.BudgetLeft(clock, arrivedAt, options.CurrentValue.HandlerBudget);

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

    private async Task CardCallbackAsync(StreamFrame frame, long arrivedAt, Func<StreamAck, Task> send, CancellationToken cancellationToken)
    {
        if (!CardActionParser.TryParse(Encoding.UTF8.GetBytes(frame.Data), CallbackTransport.Stream, frame.MessageId, out var action, out var problem))
        {
            Log.CallbackRefused(logger, frame.MessageId, problem);
            await send(StreamAck.Error(400, frame.MessageId, problem));
            return;
        }

        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            var reply = await pipeline.HandleAsync(action, arrivedAt, answered.Task, cancellationToken);
            // DingTalk reads the clicker's update only inside "response"; a bare update is ignored.
            await send(StreamAck.Ok(frame.MessageId, $$"""{"response":{{reply.AnswerJson}}}"""));
        }
        finally
        {
            answered.TrySetResult();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(5021, LogLevel.Warning, "Stream card callback {MessageId} refused with 400: {Problem:l}")]
        public static partial void CallbackRefused(ILogger logger, string messageId, string problem);

        [LoggerMessage(5022, LogLevel.Information, "No handler for Stream {Type} frames on topic '{Topic}' ({MessageId}); answered 404")]
        public static partial void NoHandler(ILogger logger, string type, string topic, string messageId);

        [LoggerMessage(5023, LogLevel.Debug, "Stream EVENT on topic '{Topic}' ({MessageId}) acknowledged")]
        public static partial void EventAcknowledged(ILogger logger, string topic, string messageId);
    }
}
