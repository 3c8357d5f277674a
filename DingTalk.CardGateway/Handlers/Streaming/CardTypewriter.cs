using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// Types text into one card variable as it arrives: advanced cards get DingTalk streaming frames (each with the
/// whole text so far, <c>isFull: true</c>, so a lost or repeated frame cannot garble it, and a final
/// <c>isFinalize</c>); normal robot cards get successive updates of a markdown block, queued in the outbox. Frames to one card are at
/// least <see cref="HandlerOptions.StreamFrameInterval"/> apart, text arriving meanwhile is coalesced, and one
/// card types one text at a time — across replicas too: a text waits for the card's turn in this process (a lane in
/// memory, so the process never polls the database for its own texts), then for the card's lease in the database
/// (<see cref="ITypingLeases"/>), which also carries the time of the card's last frame to the next replica.
/// </summary>
public sealed partial class CardTypewriter(
    IServiceProvider services,
    IServiceScopeFactory scopes,
    ITypingLeases leases,
    IOptionsMonitor<HandlerOptions> options,
    TimeProvider clock,
    ILogger<CardTypewriter> logger,
    Hosting.StopReport? stopReport = null)
{
    private readonly Lock _gate = new();

    // Resolved at first use, not at construction: the pipeline (and so this) may be built before the server listens,
    // and in Sandbox mode CardSender's clients call the server's own address.
    private CardSender Sender => field ??= services.GetRequiredService<CardSender>();
    private readonly Dictionary<string, Lane> _lanes = new(StringComparer.Ordinal);

    /// <summary>How long a text cut off by the gateway stopping gets to send its last frame.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(3);

    private int _typing;
    private TaskCompletionSource? _drained;

    /// <param name="context">The callback whose card is typed into.</param>
    /// <param name="key">The card variable (or, on a robot card, the markdown block) the text goes into.</param>
    /// <param name="chunks">The text as it arrives.</param>
    /// <param name="cancellationToken">
    /// The gateway stopping: the text typed so far is then finalised as an error (within <see cref="StopGrace"/>), so
    /// the card does not stay "typing" for ever.
    /// </param>
    public Task TypeAsync(CardActionContext context, string key, IAsyncEnumerable<string> chunks, CancellationToken cancellationToken) =>
        TypeAsync(context, new CardTextStream(key, chunks), cancellationToken);

    /// <param name="context">The callback whose card is typed into.</param>
    /// <param name="text">The variable, the text as it arrives and, on an advanced card, the variable its progress is shown in.</param>
    /// <param name="cancellationToken">As above.</param>
    public async Task TypeAsync(CardActionContext context, CardTextStream text, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _typing);
        try
        {
            await TypeInLaneAsync(context, text, cancellationToken);
        }
        finally
        {
            if (Interlocked.Decrement(ref _typing) == 0)
            {
                Volatile.Read(ref _drained)?.TrySetResult();
            }
        }
    }

    /// <summary>Completes once no text is being typed (those cut off by the stop have sent their last frame), or when <paramref name="cancellationToken"/> gives up.</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _drained, drained); // a full fence, as HandlerDrain's: a text ending now either sees this drain or is not counted below
        if (Volatile.Read(ref _typing) > 0)
        {
            await drained.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Texts being typed now.</summary>
    public int Typing => Volatile.Read(ref _typing);

    private async Task TypeInLaneAsync(CardActionContext context, CardTextStream text, CancellationToken cancellationToken)
    {
        var (lane, typing) = EnterText(context.CardId);
        try
        {
            if (await WaitForTurnAsync(lane, context, cancellationToken) is not { } lease)
            {
                return;
            }

            using var held = lease;
            try
            {
                lane.Typing = typing;
                if (lease.LastFrameAt > lane.LastFrameAt)
                {
                    lane.LastFrameAt = lease.LastFrameAt; // sent by another replica
                }

                await using var scope = scopes.CreateAsyncScope();
                var cards = scope.ServiceProvider.GetRequiredService<ICardStore>();
                var status = context.CardKind == CardKind.Advanced && text.StatusKey is { Length: > 0 } statusKey ? new Status(scopes, context, statusKey, text.Key, logger) : null;
                await TypeIntoAsync(lane, cards, context, text.Key, text.Chunks, status, lease.Lost, cancellationToken);
            }
            finally
            {
                await lease.ReleaseAsync(lane.LastFrameAt); // also when stopped or failed: the next text need not wait for it to expire
                await ReleaseTurnAsync(lane);
            }
        }
        finally
        {
            EndText(lane, typing); // also when it gave up, before its last frame or its turn
            Leave(context.CardId, lane);
        }
    }

    /// <summary>
    /// The card's turn in this process, then its lease across replicas; null when the card stayed taken past
    /// <see cref="HandlerOptions.StreamTimeout"/> plus <see cref="HandlerOptions.StreamLeaseDuration"/> (logged), and the
    /// text is not typed. The text ahead ends within the first (its source is cut off then), and a lease left by a crashed
    /// replica within the second: a card taken longer is held by something not about to let go.
    /// </summary>
    private async Task<CardLease?> WaitForTurnAsync(Lane lane, CardActionContext context, CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        var maxWait = o.StreamTimeout + o.StreamLeaseDuration;
        using var waitLimit = new CancellationTokenSource(maxWait, clock);
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, waitLimit.Token);
        try
        {
            await lane.Turn.WaitAsync(waiting.Token);
        }
        catch (OperationCanceledException) when (waitLimit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            Log.GaveUpWaiting(logger, context.CallbackId, (long)maxWait.TotalSeconds, context.CardId);
            return null;
        }

        try
        {
            return await CardLease.TakeAsync(leases, context, o.StreamLeaseDuration, clock, logger, waiting.Token);
        }
        catch (OperationCanceledException) when (waitLimit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            await ReleaseTurnAsync(lane);
            Log.GaveUpWaiting(logger, context.CallbackId, (long)maxWait.TotalSeconds, context.CardId);
            return null;
        }
        catch
        {
            await ReleaseTurnAsync(lane);
            throw;
        }
    }

    /// <summary>The next text on this card in this process (or a lane made anew) may start at once without breaking the pace.</summary>
    private async Task ReleaseTurnAsync(Lane lane)
    {
        await WaitForSlotAsync(lane, CancellationToken.None);
        lane.Turn.Release();
    }

    private async Task TypeIntoAsync(
        Lane lane, ICardStore cards, CardActionContext context, string key, IAsyncEnumerable<string> chunks, Status? status, CancellationToken leaseLost, CancellationToken cancellationToken)
    {
        var arrived = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
        var ended = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously); // true: the text ends as an error
        using var stopSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var limit = options.CurrentValue.StreamTimeout;
        using var timeLimit = new CancellationTokenSource(limit, clock);
        using var timedOut = timeLimit.Token.Register(() =>
        {
            // Ends the text even if the source never heeds its token: the card is not held by a stalled source.
            if (ended.TrySetResult(true))
            {
                Log.SourceTimedOut(logger, context.CallbackId, (long)limit.TotalSeconds, context.CardId);
                arrived.Writer.TryComplete();
                stopSource.Cancel();
            }
        });
        _ = PumpAsync(chunks, arrived.Writer, ended, context, stopSource.Token);
        try
        {
            if (status is not null)
            {
                await status.SetOnTheWayAsync(AiCardStatus.Processing, cancellationToken);
            }

            await TypeFramesAsync(lane, cards, context, key, arrived.Reader, ended.Task, status, leaseLost, cancellationToken);
        }
        finally
        {
            await stopSource.CancelAsync(); // DingTalk refused a frame, or shutdown: stop reading the source too
        }
    }

    private async Task TypeFramesAsync(
        Lane lane, ICardStore cards, CardActionContext context, string key, ChannelReader<string> arrived, Task<bool> source, Status? status, CancellationToken leaseLost, CancellationToken cancellationToken)
    {
        var send = context.CardKind == CardKind.Robot ? RobotFrames(context, key) : AdvancedFrames(context, key);
        var text = new StringBuilder();
        var finalized = false;
        var failed = false;
        var ended = false; // the last frame taken: the text has ended (as an error if failed), only its status may be left to queue
        using var leased = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, leaseLost);
        try
        {
            while (!finalized && await arrived.WaitToReadAsync(leased.Token))
            {
                await WaitForSlotAsync(lane, leased.Token);
                while (arrived.TryRead(out var chunk))
                {
                    text.Append(chunk);
                }

                finalized = arrived.Completion.IsCompleted;
                failed = finalized && await source;
                if (status is { Typing: false })
                {
                    await status.SetOnTheWayAsync(AiCardStatus.Inputing, leased.Token);
                }

                var sent = await SendPacedAsync(lane, send, text.ToString(), finalized, failed, leased.Token);
                if (!sent)
                {
                    return;
                }

                ended = finalized;
            }

            if (!finalized)
            {
                await WaitForSlotAsync(lane, leased.Token);
                failed = await source;
                await SendPacedAsync(lane, send, text.ToString(), true, failed, leased.Token);
                finalized = ended = true;
            }

            if (status is not null)
            {
                await status.SetAsync(failed ? AiCardStatus.Failed : AiCardStatus.Finished, text.ToString(), cancellationToken); // the text kept with it
            }
            else
            {
                await KeepTextAsync(cards, context, key, text.ToString(), cancellationToken);
            }
        }
        catch (OperationCanceledException) when (leaseLost.IsCancellationRequested)
        {
            // Another replica may be typing into the card by now: a frame from here would overwrite its text and break its
            // pace, so not even a last one.
            Log.LeaseLost(logger, context.CallbackId, context.CardId, text.Length);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The gateway is stopping: the text so far becomes the card's last frame, marked as an error, or the card
            // would show "typing" for ever. A robot card's frame goes to the outbox, which sends it after the restart.
            using var grace = new CancellationTokenSource(StopGrace, clock);
            try
            {
                // Not only a text still arriving: a last frame cut off on its way (DingTalk slow to answer) never said the
                // text ended either, and the card would show it typing for ever.
                if (!ended && !leaseLost.IsCancellationRequested)
                {
                    await WaitForSlotAsync(lane, grace.Token);
                    await SendPacedAsync(lane, send, text.ToString(), true, true, grace.Token);
                }

                if (status is not null && !leaseLost.IsCancellationRequested)
                {
                    // Queued: sent now or after the restart. A text whose last frame DingTalk took ended as that frame said.
                    await status.SetAsync(ended && !failed ? AiCardStatus.Finished : AiCardStatus.Failed, text.ToString(), grace.Token);
                }
                else
                {
                    await KeepTextAsync(cards, context, key, text.ToString(), grace.Token);
                }

                if (!ended)
                {
                    Log.CutOffByStop(logger, context.CallbackId, context.CardId, text.Length);
                }
            }
            catch (Exception ex)
            {
                // DingTalk or the database not answering in the stop's grace is what a stop can meet: said in words. Anything
                // else is a bug, and keeps its stack trace.
                var expected = ex is OperationCanceledException or HttpRequestException or DingTalkApiException or System.Data.Common.DbException;
                var reason = ex is OperationCanceledException ? $"no answer within {StopGrace.TotalSeconds:0} s" : ex.Message;
                Log.CutOffByStopNotFinalised(logger, expected ? null : ex, context.CallbackId, context.CardId, reason);
                stopReport?.TextsNotFinalised(1);
            }

            throw;
        }
        catch (Exception ex) when (status is not null && ex is not OperationCanceledException)
        {
            // DingTalk refused a frame for good (a missing streaming permission, say): the card's status still says how the
            // text ended, through the card update API and the outbox, or its spinner would turn for ever. Or, the last frame
            // taken, the database refused the text's status: tried once more, as that frame said.
            var last = ended && !failed ? AiCardStatus.Finished : AiCardStatus.Failed;
            try
            {
                await status.SetAsync(last, text.ToString(), cancellationToken);
            }
            catch (Exception statusFailed) when (statusFailed is not OperationCanceledException && ended)
            {
                Log.LastStatusNotQueued(logger, statusFailed, context.CallbackId, last, context.CardId);
            }
            catch (Exception statusFailed) when (statusFailed is not OperationCanceledException)
            {
                Log.StatusNotQueued(logger, statusFailed, context.CallbackId, context.CardId);
            }

            throw;
        }
    }

    /// <summary>
    /// An advanced card's status variable (<see cref="CardTextStream.StatusKey"/>), set through the stored card and the
    /// outbox, like every update for everyone: in order with the card's other updates, retried until DingTalk takes it.
    /// </summary>
    private sealed class Status(IServiceScopeFactory scopes, CardActionContext context, string statusKey, string textKey, ILogger logger)
    {
        /// <summary>Inputing has been queued (or tried): the first frame went, or is going.</summary>
        public bool Typing { get; private set; }

        /// <summary>
        /// Queues a status on the way (processing, inputing). One the database refuses is logged and skipped: the frames
        /// need no database, and the text's end queues the status that stops the spinner — the typing goes on.
        /// </summary>
        public async Task SetOnTheWayAsync(string value, CancellationToken cancellationToken)
        {
            try
            {
                await SetAsync(value, text: null, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                Log.StatusSkipped(logger, ex, context.CallbackId, statusKey, value, context.CardId);
            }
        }

        /// <summary>Queues <paramref name="value"/> for everyone, with the whole <paramref name="text"/> if given.</summary>
        public async Task SetAsync(string value, string? text, CancellationToken cancellationToken)
        {
            Typing |= value == AiCardStatus.Inputing;
            var data = new Dictionary<string, JsonElement>(StringComparer.Ordinal) { [statusKey] = JsonSerializer.SerializeToElement(value) };
            if (text is not null)
            {
                data[textKey] = JsonSerializer.SerializeToElement(text);
            }

            await using var scope = scopes.CreateAsyncScope();
            await QueueAloneAsync(scope.ServiceProvider, new PendingCardUpdate(context.CardId, CardKind.Advanced, data, PrivateData: null), cancellationToken);
        }
    }

    /// <summary>
    /// Queues <paramref name="update"/> for everyone through the stored card and the outbox, in a transaction of its own in
    /// <paramref name="services"/>' storage session, and wakes the outbox; the entry's id.
    /// </summary>
    private static async Task<long> QueueAloneAsync(IServiceProvider services, PendingCardUpdate update, CancellationToken cancellationToken)
    {
        var session = services.GetRequiredService<StorageSession>();
        var updates = services.GetRequiredService<CardUpdates>();
        await session.BeginAsync(cancellationToken);
        var id = await updates.QueueAsync(update, afterAnswer: false, cancellationToken);
        await session.CommitAsync(cancellationToken);
        updates.Wake();
        return id;
    }

    /// <summary>An advanced card's text is kept in its stored data (a robot card's frames went through the stored card already).</summary>
    private static Task KeepTextAsync(ICardStore cards, CardActionContext context, string key, string text, CancellationToken cancellationToken) =>
        context.CardKind == CardKind.Advanced
            ? cards.ApplyUpdateAsync(context.CardId, new CardDataChange(new Dictionary<string, string> { [key] = text }, null, Replace: false), cancellationToken)
            : Task.CompletedTask;

    /// <summary>Moves the source's chunks into <paramref name="writer"/>; sets <paramref name="ended"/> true when the source failed (the text ends as an error).</summary>
    private async Task PumpAsync(IAsyncEnumerable<string> chunks, ChannelWriter<string> writer, TaskCompletionSource<bool> ended, CardActionContext context, CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            await foreach (var chunk in chunks.WithCancellation(cancellationToken))
            {
                writer.TryWrite(chunk);
            }

            ended.TrySetResult(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // told to stop: a refused frame, shutdown or the time limit
        }
        catch (Exception ex)
        {
            // Includes a cancellation the typewriter did not ask for (an LLM client's HttpClient timeout): the source failed.
            if (ended.TrySetResult(true))
            {
                Log.SourceFailed(logger, ex, context.CallbackId, context.CardId);
            }
        }
        finally
        {
            writer.TryComplete();
        }
    }

    /// <summary>A frame for the streaming API; true once DingTalk took it (a refusal throws and ends the typing).</summary>
    private Func<string, bool, bool, CancellationToken, Task<bool>> AdvancedFrames(CardActionContext context, string key) =>
        async (text, isFinalize, isError, cancellationToken) =>
        {
            await Sender.StreamAsync(StreamingFrame.Create(context.CardId, key, text, isFull: true, isFinalize: isFinalize, isError: isError), cancellationToken);
            return true;
        };

    /// <summary>
    /// A normal card has no streaming API: each frame is an update for everyone of its markdown block
    /// <paramref name="key"/>, through the stored card and the outbox like every other update of the card. So a frame
    /// carries the card's <c>contents</c> as they are when it is queued — never overwriting a block another click
    /// changed meanwhile — and never overtakes an update queued before it. False once DingTalk has refused a frame for
    /// good (dead-lettered): the typing stops rather than queueing more frames DingTalk will refuse.
    /// </summary>
    private Func<string, bool, bool, CancellationToken, Task<bool>> RobotFrames(CardActionContext context, string key)
    {
        long? previous = null;
        return async (text, _, _, cancellationToken) =>
        {
            await using var scope = scopes.CreateAsyncScope();
            var services = scope.ServiceProvider;
            if (previous is { } id && await services.GetRequiredService<IOutbox>().FindAsync(id, cancellationToken) is { Status: OutboxStatus.Dead })
            {
                Log.FrameRefused(logger, context.CallbackId, context.CardId);
                return false;
            }

            previous = await QueueAloneAsync(
                services,
                new PendingCardUpdate(context.CardId, CardKind.Robot, CardData: null, PrivateData: null, RobotBlocks: new Dictionary<string, string> { [key] = text }),
                cancellationToken);
            return true;
        };
    }

    /// <summary>Sends a frame and starts the card's next interval, also when the frame failed: it may have reached DingTalk.</summary>
    private async Task<bool> SendPacedAsync(Lane lane, Func<string, bool, bool, CancellationToken, Task<bool>> send, string text, bool isFinalize, bool isError, CancellationToken cancellationToken)
    {
        if (isFinalize && lane.Typing is { } typing)
        {
            // Its last frame: a frame from outside the text, waiting for the turn the text still holds, can no longer land
            // between two of its frames, and need not be refused as if the text were still being typed.
            EndText(lane, typing);
        }

        try
        {
            return await send(text, isFinalize, isError, cancellationToken);
        }
        finally
        {
            lane.LastFrameAt = clock.GetUtcNow();
        }
    }

    /// <summary>
    /// Waits until the card's interval has passed by the wall clock. Timers round down to whole milliseconds and may fire
    /// a tick early, and a frame DingTalk receives even 1 ms early is refused: so round up, and look again after waking.
    /// </summary>
    private async Task WaitForSlotAsync(Lane lane, CancellationToken cancellationToken)
    {
        for (var wait = Remaining(); wait > TimeSpan.Zero; wait = Remaining())
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(wait.TotalMilliseconds)), clock, cancellationToken);
        }

        TimeSpan Remaining() => lane.LastFrameAt + options.CurrentValue.StreamFrameInterval - clock.GetUtcNow();
    }

    private Lane Enter(string cardId)
    {
        lock (_gate)
        {
            if (!_lanes.TryGetValue(cardId, out var lane))
            {
                _lanes[cardId] = lane = new Lane();
            }

            lane.Users++;
            return lane;
        }
    }

    /// <summary>A text enters the card's lane: it is typing (<see cref="Lane.Texts"/>) until it ends (<see cref="EndText"/>).</summary>
    private (Lane Lane, TypedText Text) EnterText(string cardId)
    {
        lock (_gate)
        {
            var lane = Enter(cardId);
            lane.Texts++;
            return (lane, new TypedText());
        }
    }

    /// <summary><paramref name="text"/> has ended — its last frame sent, or its typing given up —, once.</summary>
    private void EndText(Lane lane, TypedText text)
    {
        lock (_gate)
        {
            if (!text.Ended)
            {
                text.Ended = true;
                lane.Texts--;
            }
        }
    }

    private void Leave(string cardId, Lane lane)
    {
        lock (_gate)
        {
            if (--lane.Users == 0)
            {
                _lanes.Remove(cardId);
            }
        }
    }

    private sealed class Lane
    {
        public SemaphoreSlim Turn { get; } = new(1, 1);

        public DateTimeOffset LastFrameAt { get; set; } = DateTimeOffset.MinValue;

        public int Users { get; set; }

        /// <summary>Of <see cref="Users"/>, texts that have not ended: typing, or waiting for their turn.</summary>
        public int Texts { get; set; }

        /// <summary>The text holding the card's turn, if one does.</summary>
        public TypedText? Typing { get; set; }
    }

    /// <summary>One text in a card's lane.</summary>
    private sealed class TypedText
    {
        /// <summary>Its last frame has been sent, or its typing given up.</summary>
        public bool Ended { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(6101, LogLevel.Warning, "The text source of callback {CallbackId} failed; card {CardId} keeps the text so far, marked as an error")]
        public static partial void SourceFailed(ILogger logger, Exception exception, string callbackId, string cardId);

        [LoggerMessage(6102, LogLevel.Warning, "DingTalk refused a frame of callback {CallbackId} for good (card {CardId}; the dead letter is in GET /api/cards/{CardId}): typing stopped")]
        public static partial void FrameRefused(ILogger logger, string callbackId, string cardId);

        [LoggerMessage(6104, LogLevel.Warning, "The gateway stopped while callback {CallbackId} typed into card {CardId}: its {Length} characters so far were finalised, marked as an error")]
        public static partial void CutOffByStop(ILogger logger, string callbackId, string cardId, int length);

        [LoggerMessage(6105, LogLevel.Error, "The gateway stopped while callback {CallbackId} typed into card {CardId}, and its last frame could not be sent ({Reason}): the card may show it typing")]
        public static partial void CutOffByStopNotFinalised(ILogger logger, Exception? exception, string callbackId, string cardId, string reason);

        [LoggerMessage(6103, LogLevel.Warning, "The text source of callback {CallbackId} did not end within {LimitSeconds} s (Gateway:Handlers:StreamTimeout); card {CardId} keeps the text so far, marked as an error")]
        public static partial void SourceTimedOut(ILogger logger, string callbackId, long limitSeconds, string cardId);

        [LoggerMessage(6107, LogLevel.Warning, "Callback {CallbackId} waited {WaitSeconds} s (Gateway:Handlers:StreamTimeout plus StreamLeaseDuration) for card {CardId} to finish typing another text, and gave up: its reply is not typed, the user may ask again")]
        public static partial void GaveUpWaiting(ILogger logger, string callbackId, long waitSeconds, string cardId);

        [LoggerMessage(6120, LogLevel.Error, "Callback {CallbackId} could not queue the failed status of card {CardId} after DingTalk refused a frame (the database away): the card may show it typing")]
        public static partial void StatusNotQueued(ILogger logger, Exception exception, string callbackId, string cardId);

        [LoggerMessage(6125, LogLevel.Warning, "Callback {CallbackId} could not queue {StatusKey} = {Status} on card {CardId} (the database away): skipped, the text is typed on and its end sets the card's status")]
        public static partial void StatusSkipped(ILogger logger, Exception exception, string callbackId, string statusKey, string status, string cardId);

        [LoggerMessage(6126, LogLevel.Error, "Callback {CallbackId} could not queue the status {Status} of card {CardId} after its last frame, tried twice (the database away): the card may show it typing")]
        public static partial void LastStatusNotQueued(ILogger logger, Exception exception, string callbackId, string status, string cardId);

        [LoggerMessage(6108, LogLevel.Warning, "Callback {CallbackId} lost the typing lease on card {CardId} after {Length} characters (it could not be renewed in time, see warning 6110): typing stopped without a last frame, as another replica may type into the card now; the card may show this text unfinished until its next reply")]
        public static partial void LeaseLost(ILogger logger, string callbackId, string cardId, int length);
    }
}
