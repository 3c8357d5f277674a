using System.Diagnostics;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Handlers.Effects;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// The one path every verified callback takes, whatever its transport (HTTP or Stream): claim the callback's id →
/// choose the handler → run it within the budget → record the outcome, the handler's state change, its update
/// for everyone and the effects it asked for in ONE transaction → commit → answer; then, once the answer has left, the
/// outbox may send the update and any streamed text is typed (the effects run apart: <see cref="EffectDispatcher"/>).
/// </summary>
/// <remarks>
/// Everything a callback writes goes through the <see cref="StorageSession"/> of one DI scope, so a crash loses
/// either the whole callback (DingTalk saw no answer and redelivers) or nothing. A handler that overruns its
/// budget is answered at once without its clicker update; it still holds the transaction, which commits when it
/// finishes (a redelivery meanwhile waits on the uncommitted claim, then gets the recorded answer). A stopping gateway
/// waits for callbacks being handled, overrun ones too, before it cancels their handlers (<see cref="HandlerDrain"/>).
/// </remarks>
public sealed partial class CallbackPipeline(
    CardHandlerRegistry handlers,
    IServiceScopeFactory scopes,
    CardTypewriter typewriter,
    OutboxSignal outbox,
    HandlerDrain drain,
    AnsweredEarlyJournal journal,
    IOptionsMonitor<CallbackHandlingOptions> options,
    Hosting.StopDelay stop,
    GatewayMetrics metrics,
    TimeProvider clock,
    ILogger<CallbackPipeline> logger,
    RefusedRequests? refusedRequests = null,
    DatabaseBack? databaseBack = null)
{
    private const string BeforeHandler = "before_handler";

    /// <summary>How often a redelivery waiting for the first delivery's record tries the claim again (see <see cref="AnswerRedeliveryAsync"/>).</summary>
    private static readonly TimeSpan ReclaimInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long a redelivery's last look for the first delivery's record, at its budget, may take: a read, not another wait
    /// for the record (on SQLite in memory it takes a turn of the writer); past it, <c>{}</c> is answered as before.
    /// </summary>
    private static readonly TimeSpan LastLookLimit = TimeSpan.FromMilliseconds(100);

    /// <summary>How often a redelivery answered <c>{}</c> while another delivery held its click tries the claim again (<see cref="SeeThroughAsync"/>).</summary>
    private static readonly TimeSpan SeeThroughInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>How long an answer <c>{}</c> before a commit waits for its click to be kept on disk (<see cref="KeepAnsweredAsync"/>).</summary>
    private static readonly TimeSpan KeepLimit = TimeSpan.FromMilliseconds(250);

    /// <summary>The first wait before a click answered early whose storage failed is tried again (<see cref="TryAgainAsync"/>).</summary>
    internal TimeSpan RetryFirstWait { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest wait between two tries of a click answered early whose storage failed.</summary>
    internal TimeSpan RetryMaxWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a handler may hold SQLite's writer while it waits on something else before it is logged (3114).</summary>
    internal static readonly TimeSpan HeldWriterWarning = TimeSpan.FromMilliseconds(100);

    /// <param name="action">A verified, parsed callback.</param>
    /// <param name="arrivedAt">
    /// The pipeline's clock's <see cref="TimeProvider.GetTimestamp"/> as the callback arrived (before its body was read):
    /// the handler's budget counts from it, as DingTalk's 2 seconds do (<see cref="AnswerTimeline"/>).
    /// </param>
    /// <param name="answerSent">
    /// Completes when the transport has sent the answer (or failed to): updates for everyone wait for it, so the
    /// transport must complete it in every case (HTTP does in <c>Response.OnCompleted</c>).
    /// </param>
    /// <param name="cancellationToken">
    /// The transport's token; once claimed, or answered early, a callback is seen through regardless.
    /// </param>
    public async Task<CallbackReply> HandleAsync(CardAction action, long arrivedAt, Task answerSent, CancellationToken cancellationToken) =>
        (await HandleThroughAsync(action, arrivedAt, answerSent, cancellationToken)).Reply;

    /// <summary>
    /// As <see cref="HandleAsync"/>, and says when the callback is through: a transport that bounds how many callbacks it
    /// handles at once (Stream's <c>DingTalk:Stream:MaxFramesInFlight</c>) counts one answered <c>{}</c> at its budget until
    /// its handler has ended and its outcome is committed, not only until its answer.
    /// </summary>
    public async Task<CallbackHandling> HandleThroughAsync(CardAction action, long arrivedAt, Task answerSent, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var timeline = new AnswerTimeline(clock, arrivedAt);
        // The transport's token stops the wait for storage only until the callback is answered early: after that
        // DingTalk has {} and will not deliver it again, so the click goes on whatever the transport does (a Stream
        // socket closing, an HTTP request's token reused by the connection's next request). Not disposed: the background
        // pipeline may still hold its token.
        var transportGone = new CancellationTokenSource();
        using var gone = cancellationToken.Register(() =>
        {
            if (timeline.TryAbandon())
            {
                transportGone.Cancel();
            }
        });
        try
        {
            var handling = HandleOnceAsync(action, timeline, answerSent, transportGone.Token);
            var (reply, through) = handling.IsCompleted ? (await handling, Task.CompletedTask) : await AnswerInTimeAsync(handling, action, timeline);
            metrics.Answered(action.Transport, reply, started);
            if (timeline.Late(options.CurrentValue.LateAnswer) is { } late)
            {
                Log.AnsweredLate(
                    logger,
                    action.CallbackId,
                    action.CardId,
                    action.Transport,
                    (long)late.Total.TotalMilliseconds,
                    (long)options.CurrentValue.LateAnswer.TotalMilliseconds,
                    late.Slowest,
                    (long)late.Reading.TotalMilliseconds,
                    (long)late.Storage.TotalMilliseconds,
                    reply.Handler ?? "(none)",
                    (long)late.Handler.TotalMilliseconds,
                    (long)late.Commit.TotalMilliseconds);
                metrics.AnsweredLate(action.Transport, late.Slowest);
            }

            return new CallbackHandling(reply, through);
        }
        catch
        {
            metrics.Failed(action.Transport, started);
            throw;
        }
    }

    /// <summary>
    /// The pipeline's answer — or, when the budget is spent before the callback's outcome is being committed, <c>{}</c> at
    /// once while the pipeline goes on without DingTalk waiting. Whatever held it — storage before the handler (the claim,
    /// the card's read), the handler itself, or storage after it (SQLite's writer to get back on, a commit) — the click is
    /// handled as soon as it can be, recorded as overran, and its update for everyone follows.
    /// </summary>
    /// <returns>The answer, and what goes on after it (<see cref="CallbackHandling.Through"/>).</returns>
    private async Task<(CallbackReply Reply, Task Through)> AnswerInTimeAsync(Task<CallbackReply> handling, CardAction action, AnswerTimeline timeline)
    {
        var budget = options.CurrentValue.HandlerBudget;
        try
        {
            return (await handling.WaitAsync(timeline.Remaining(budget), clock, CancellationToken.None), Task.CompletedTask);
        }
        catch (TimeoutException) when (timeline.TryAnswerEarly() is { } stage)
        {
            var budgetMs = (long)budget.TotalMilliseconds;
            if (stage == AnswerStage.Redelivery)
            {
                // Still looking for the first delivery's record, or waiting for storage to try the claim again. That record
                // may have been committed in the budget's last moments (between two of its looks, or while it waited for
                // the writer): one last look, and the clicker gets the answer recorded. Else {}, as its look would be at the
                // budget; the click stays with the first delivery (or, should that one end without a record, is handled by
                // this one: AnswerRedeliveryAsync, SeeThroughAsync).
                var through = HandleAfterEarlyAnswerAsync(handling, action, timeline, kept: null); // the click is the first delivery's, kept by it
                var recorded = await RecordedAsync(action.CallbackId, LastLookLimit);
                var outcome = recorded?.Outcome ?? CallbackOutcome.Pending;
                Log.Redelivered(logger, action.CallbackId, action.CardId, outcome);
                return (new CallbackReply(action.CallbackId, outcome, Redelivery: true, recorded?.AnswerJson ?? CardCallbackResponse.Empty.ToJson()), through);
            }

            // DingTalk will not deliver it again once it has {}: kept on disk first, so a process dying before its commit
            // does not lose it (AnsweredEarlyJournal).
            var kept = await KeepAnsweredAsync(action);
            var after = HandleAfterEarlyAnswerAsync(handling, action, timeline, kept);
            if (stage == AnswerStage.Storage)
            {
                Log.AnsweredBeforeHandler(logger, action.CallbackId, action.CardId, budgetMs, (long)timeline.BeforePipeline.TotalMilliseconds, (long)timeline.InPipeline.TotalMilliseconds);
                return (new CallbackReply(action.CallbackId, CallbackOutcome.Pending, Redelivery: false, CardCallbackResponse.Empty.ToJson()), after); // no handler had started
            }

            var handler = timeline.Handler!;
            if (stage == AnswerStage.Handler)
            {
                Log.Overran(logger, handler, budgetMs, action.CallbackId, action.CardId);
            }
            else
            {
                Log.AnsweredBeforeCommit(logger, handler, action.CallbackId, action.CardId, budgetMs);
            }

            return (new CallbackReply(action.CallbackId, CallbackOutcome.Overran, Redelivery: false, CardCallbackResponse.Empty.ToJson(), handler), after);
        }
        catch (TimeoutException)
        {
            return (await handling, Task.CompletedTask); // being committed (its answer is a moment away), or its transport gone
        }
    }

    /// <summary>
    /// A callback its transport answered <c>{}</c> before it could enter the pipeline: a Stream frame whose budget ran out
    /// while every frame slot was busy. DingTalk will not deliver it again, so it is counted as answered now, a stopping
    /// gateway waits for it from now (<see cref="HandlerDrain"/>), and once <paramref name="turn"/> has come (its slot) it is
    /// handled to its commit, recorded as answered early, its update for everyone following. Never throws: a failure is
    /// logged, as for any callback answered early.
    /// </summary>
    /// <remarks><paramref name="kept"/>: what <see cref="KeepAnsweredAsync"/> returned before the transport's answer left.</remarks>
    public async Task HandleAnsweredAsync(CardAction action, long arrivedAt, Func<Task> turn, Task? kept)
    {
        metrics.Answered(action.Transport, new CallbackReply(action.CallbackId, CallbackOutcome.Pending, Redelivery: false, CardCallbackResponse.Empty.ToJson()), Stopwatch.GetTimestamp());
        drain.Begin();
        var timeline = new AnswerTimeline(clock, arrivedAt);
        try
        {
            await HandleAfterEarlyAnswerAsync(InTurnAsync(), action, timeline, kept);
        }
        finally
        {
            drain.End();
        }

        async Task<CallbackReply> InTurnAsync()
        {
            await turn();
            timeline.TryAnswerEarly(); // its answer has left: recorded as {} (a handled click as overran), and a claim refused is a redelivery to see through
            return await HandleOnceAsync(action, timeline, Task.CompletedTask, CancellationToken.None);
        }
    }

    /// <summary>
    /// The rest of a callback answered early: nobody else waits for it, so a failure is said (and tried again) here. Once it
    /// is through, its copy kept on disk (<paramref name="kept"/>, from <see cref="KeepAnsweredAsync"/>; null when none was) goes.
    /// </summary>
    private async Task HandleAfterEarlyAnswerAsync(Task<CallbackReply> handling, CardAction action, AnswerTimeline timeline, Task? kept)
    {
        if (await ThroughAsync() && kept is not null)
        {
            await kept;
            await journal.ForgetAsync(action.CallbackId);
        }

        async Task<bool> ThroughAsync()
        {
            try
            {
                await handling;
                return true;
            }
            catch (Exception ex)
            {
                if (timeline.HeldElsewhere)
                {
                    // A redelivery that never got the claim: the click is the delivery's that holds it, which records it.
                    Log.FailedWhileHeldElsewhere(logger, ex, action.CallbackId, action.CardId);
                    return true;
                }

                if (await RecordedElsewhereAsync(action) is { } outcome)
                {
                    Log.RecordedElsewhere(logger, action.CallbackId, action.CardId, outcome, ex.GetType().Name);
                    return true;
                }

                return await TryAgainAsync(action, ex);
            }
        }
    }

    /// <summary>
    /// Keeps a click about to be answered <c>{}</c> before its commit on disk (<see cref="AnsweredEarlyJournal"/>), waiting
    /// for the write at most <see cref="KeepLimit"/> (DingTalk's 2 seconds run on); returns the write, which must end before
    /// the click's file may be deleted. Transports that answer <c>{}</c> themselves (a callback waiting for a slot) call it
    /// before their answer leaves, and pass what it returns to <see cref="HandleAnsweredAsync"/>.
    /// </summary>
    public async Task<Task> KeepAnsweredAsync(CardAction action)
    {
        var keeping = journal.KeepAsync(action);
        try
        {
            await keeping.WaitAsync(KeepLimit, clock);
        }
        catch (TimeoutException)
        {
            // answered all the same: a moment of risk beats an error shown to the user
        }

        return keeping;
    }

    /// <summary>
    /// A click a previous process answered <c>{}</c> and kept, but died before committing (<see cref="AnsweredEarlyRecovery"/>):
    /// handled now as one answered early (recorded <see cref="CallbackOutcome.Overran"/>, its update for everyone following),
    /// or found recorded after all; its file goes once it is through.
    /// </summary>
    public async Task RecoverAsync(CardAction action)
    {
        drain.Begin();
        try
        {
            bool through;
            try
            {
                var reply = await HandleOnceAsync(action, AnswerTimeline.SeeingThrough(clock), Task.CompletedTask, CancellationToken.None);
                if (!reply.Redelivery)
                {
                    Log.Recovered(logger, action.CallbackId, action.CardId, action.UserId, reply.Outcome);
                }

                through = true;
            }
            catch (Exception ex)
            {
                through = await TryAgainAsync(action, ex);
            }

            if (through)
            {
                await journal.ForgetAsync(action.CallbackId);
            }
        }
        finally
        {
            drain.End();
        }
    }

    /// <summary>
    /// A click answered <c>{}</c> whose handling failed before its commit (storage away for a moment, a failover, a
    /// commit refused): DingTalk will not deliver it again, so it is handled again — its claim, its handler, its commit —
    /// after <see cref="RetryFirstWait"/>, then at waits doubling to <see cref="RetryMaxWait"/>, until storage takes it,
    /// for as long as <see cref="SeeThroughLimit"/> — or at once, whatever is left of the wait, when the database answers
    /// again after a try lost its way to it (<see cref="DatabaseBack"/>). A stopping gateway waits for it as for any click being handled
    /// (<see cref="HandlerDrain"/>, <c>StopGrace</c>). Only a click still not through then is lost (3112). The claim keeps
    /// it once: a try whose commit went through unseen finds the click recorded.
    /// </summary>
    /// <returns>Whether the click is through (handled, or found recorded); false when it is lost, said (3112).</returns>
    private async Task<bool> TryAgainAsync(CardAction action, Exception failure)
    {
        if (drain.IsOver || drain.HandlersStopping.IsCancellationRequested)
        {
            Log.LostAfterEarlyAnswer(logger, RepeatedFailure.StackWorthLogging(failure), action.CallbackId, action.CardId, SchemaMigrator.Describe(failure)); // the stop waits for nothing more (a click still waiting for its slot then)
            return false;
        }

        var back = BackWhenAway(failure); // before it is said: an answer meanwhile wakes it
        var limit = SeeThroughLimit(options.CurrentValue);
        Log.TryingAgain(logger, RepeatedFailure.StackWorthLogging(failure), action.CallbackId, action.CardId, SchemaMigrator.Describe(failure), (long)limit.TotalSeconds);
        var started = clock.GetTimestamp();
        var wait = RetryFirstWait;
        var through = false;
        drain.Begin();
        try
        {
            for (var attempt = 2; clock.GetElapsedTime(started) < limit; attempt++)
            {
                await WaitToTryAgainAsync(wait, back);
                back = null; // heard: only a try failing the same way again waits for the next answer
                wait = wait * 2 < RetryMaxWait ? wait * 2 : RetryMaxWait;
                try
                {
                    var reply = await HandleOnceAsync(action, AnswerTimeline.SeeingThrough(clock), Task.CompletedTask, CancellationToken.None);
                    if (!reply.Redelivery)
                    {
                        Log.HandledOnRetry(logger, action.CallbackId, action.CardId, attempt, reply.Outcome);
                        through = true;
                        return true;
                    }

                    if (reply.Outcome != CallbackOutcome.Pending)
                    {
                        Log.RecordedElsewhere(logger, action.CallbackId, action.CardId, reply.Outcome, failure.GetType().Name); // a try's commit went through after all
                        through = true;
                        return true;
                    }

                    // Held by another delivery (a try of this one whose transaction has not ended yet, on PostgreSQL): it
                    // records the click, or lets go of it for the next try.
                }
                catch (Exception ex)
                {
                    failure = ex;
                    back = BackWhenAway(failure);
                    if (drain.HandlersStopping.IsCancellationRequested)
                    {
                        break;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (drain.HandlersStopping.IsCancellationRequested)
        {
            // stopping, the grace over
        }
        finally
        {
            if (!through)
            {
                Log.LostAfterEarlyAnswer(logger, RepeatedFailure.StackWorthLogging(failure), action.CallbackId, action.CardId, SchemaMigrator.Describe(failure)); // before the drain counts it out: a stop ending then finds it said
            }

            drain.End();
        }

        return false;
    }

    /// <summary>
    /// What ends a retry's wait early: the database answering again, when <paramref name="failure"/> was the way to it
    /// lost or not answering (a server restarting or stopped, a network cut, a timeout); null for any other failure (a write refused, a full disk),
    /// whose backoff stands whatever other clicks commit.
    /// </summary>
    private Task? BackWhenAway(Exception failure) =>
        databaseBack is not null && StorageFailure.IsUnreachable(failure) ? databaseBack.Next() : null;

    /// <summary>Waits <paramref name="wait"/> before a retry, or until <paramref name="back"/> says the database answers again.</summary>
    private async Task WaitToTryAgainAsync(TimeSpan wait, Task? back)
    {
        if (back is null)
        {
            await Task.Delay(wait, clock, drain.HandlersStopping);
            return;
        }

        using var woken = CancellationTokenSource.CreateLinkedTokenSource(drain.HandlersStopping);
        var delay = Task.Delay(wait, clock, woken.Token);
        if (await Task.WhenAny(delay, back) == delay)
        {
            await delay; // throws when the gateway stops
            return;
        }

        await woken.CancelAsync(); // the timer goes
        drain.HandlersStopping.ThrowIfCancellationRequested();
    }

    /// <summary>
    /// The click's outcome as another delivery recorded it, if one did: this delivery failed after another took its
    /// click over (on PostgreSQL, its transaction ended past its idle limit, and a redelivery handled it).
    /// </summary>
    private async Task<CallbackOutcome?> RecordedElsewhereAsync(CardAction action) =>
        (await RecordedAsync(action.CallbackId, Timeout.InfiniteTimeSpan))?.Outcome; // null with the database away: said as lost, which it may be

    /// <summary>
    /// The click's record with its outcome, read once, without waiting for one; null when there is none yet, or when the
    /// read fails or takes longer than <paramref name="limit"/>.
    /// </summary>
    private async Task<CallbackRecord?> RecordedAsync(string callbackId, TimeSpan limit)
    {
        try
        {
            using var cancel = new CancellationTokenSource(limit, clock);
            await using var scope = scopes.CreateAsyncScope();
            var record = await scope.ServiceProvider.GetRequiredService<ICallbackStore>().FindAsync(callbackId, TimeSpan.Zero, cancel.Token);
            return record is { Outcome: not CallbackOutcome.Pending } ? record : null;
        }
        catch (Exception)
        {
            return null;
        }
    }

    private async Task<CallbackReply> HandleOnceAsync(CardAction action, AnswerTimeline timeline, Task answerSent, CancellationToken cancellationToken)
    {
        var scope = scopes.CreateAsyncScope();
        var scopeHandedOver = false;
        drain.Begin(); // a stopping gateway waits for it until it commits (HandlerDrain)
        try
        {
            var services = scope.ServiceProvider;
            var session = services.GetRequiredService<StorageSession>();
            var callbacks = services.GetRequiredService<ICallbackStore>();
            await session.BeginAsync(cancellationToken);
            var refused = false;
            while (!await ClaimAsync())
            {
                await session.RollbackAsync();
                timeline.Redelivered();
                if (await AnswerRedeliveryAsync(callbacks, action, timeline) is { } answer)
                {
                    return answer;
                }

                // Still no record: the delivery holding the id may yet commit — or have ended without one (its replica
                // killed mid-callback, its commit failed), and then nobody but this delivery sees the click through.
                refused = true;
                await session.BeginAsync(cancellationToken);
            }

            Task<bool> ClaimAsync()
            {
                session.WithNextClaim(action.CardId, BeforeHandler, options.CurrentValue.TransactionIdleLimit); // PostgreSQL: the card's read and the savepoint below go with the claim
                return callbacks.TryAddAsync(CallbackRecord.Received(action, clock.GetUtcNow()), cancellationToken);
            }

            timeline.Claimed();
            if (refused)
            {
                timeline.Reclaiming();
                Log.Reclaimed(logger, action.CallbackId, action.CardId);
            }

            var card = await services.GetRequiredService<ICardStore>().FindAsync(action.CardId, CancellationToken.None);
            var registration = handlers.Find(action, card);
            if (registration is null)
            {
                Log.NoHandler(
                    logger,
                    action.Action ?? (action.ActionIds.Count > 0 ? action.ActionIds[0] : "(none)"),
                    card?.TemplateId ?? "(a card this gateway did not send)",
                    action.CallbackId,
                    action.CardId,
                    action.UserId,
                    CardHandlerRegistry.Clicked(action),
                    handlers.Unclaimed(action, card));
                return await CommitAsync(services, action, timeline, CallbackOutcome.Unhandled, null, CardCallbackResponse.Empty);
            }

            var handlerName = registration.HandlerType.Name;
            var runs = 1 + options.CurrentValue.ConflictRetries;
            await session.SavepointAsync(BeforeHandler, CancellationToken.None);
            CardActionContext context;
            CardActionResult? result;
            for (var run = 1; ; run++)
            {
                context = CardActionContext.From(action, card, run);
                if (card is not null)
                {
                    session.LockCardAlong(card.Id); // PostgreSQL: a card-wide state locked by the handler brings the card's lock with it, for the commit
                }

                session.BeginHandler(action.CallbackId);
                timeline.HandlerStarted(handlerName);
                var mayRunAgain = run < runs && !drain.HandlersStopping.IsCancellationRequested;
                // No wait of its own: past the budget, the callback is answered {} (AnswerInTimeAsync) while this goes on.
                var handling = InvokeAsync(services, registration, context, mayRunAgain);
                if (!handling.IsCompleted)
                {
                    _ = LeaveWriterWhileWaitingAsync(session, handling, handlerName, action); // SQLite's writer is not held while it waits on something else
                }

                var (ran, contended) = await handling;
                timeline.HandlerEnded();
                (result, var conflicted) = await EndHandlerAsync(session, ran, handlerName, context, mayRunAgain);
                contended ??= conflicted ? Contention.StateChanged : null;
                if (contended is null && result?.Everyone is { IsEmpty: false } everyone)
                {
                    try
                    {
                        await QueueForEveryoneAsync(services, context, everyone);
                    }
                    catch (Exception ex) when (mayRunAgain && Contention.Of(ex) is { } contention)
                    {
                        contended = contention; // the card's lock, for the update: a deadlock found only there
                    }
                }

                if (contended is null || !mayRunAgain)
                {
                    break; // its result, or its failure (said already)
                }

                // Another click's change met this one: undone, and run again on what that click left.
                Log.RunAgain(logger, handlerName, action.CallbackId, action.CardId, action.UserId, contended.Reason, run + 1, runs);
                metrics.RanAgain(contended.Kind);
                await session.RollbackToAsync(BeforeHandler, CancellationToken.None);
                card = await services.GetRequiredService<ICardStore>().FindAsync(action.CardId, CancellationToken.None);
                timeline.HandlerRunAgain();
            }

            if (result is { AfterCommit.Count: > 0 })
            {
                // After the last run, so a run undone took what it asked for with it; in the click's transaction, so they
                // run exactly when it commits.
                await services.GetRequiredService<SqlEffects>().QueueAsync(action.CallbackId, action.CardId, result.AfterCommit, CancellationToken.None);
            }

            var reply = await CommitAsync(
                services,
                action,
                timeline,
                result is null ? CallbackOutcome.HandlerFailed : CallbackOutcome.Handled,
                handlerName,
                CardCallbackResponse.For(result?.Clicker));
            if (result is { AfterCommit.Count: > 0 })
            {
                services.GetRequiredService<SqlEffects>().Committed();
            }

            scopeHandedOver = true;
            _ = FollowUpAsync(scope, result, context, answerSent);
            return reply;
        }
        finally
        {
            drain.End();
            if (!scopeHandedOver)
            {
                await scope.DisposeAsync();
            }
        }
    }

    /// <returns>
    /// The handler's result, null when it failed; and, when it failed on meeting another click's change that a run again
    /// may get past (<paramref name="mayRunAgain"/>: a deadlock, say), what that was — not logged as a failure then.
    /// </returns>
    private async Task<(CardActionResult? Result, Contention? Contended)> InvokeAsync(
        IServiceProvider services, CardHandlerRegistration registration, CardActionContext context, bool mayRunAgain)
    {
        // The handler's token: cancelled past Gateway:Callbacks:HandlerTimeout, or once a stop's grace is over. Disposed
        // (its timer with it) as soon as the handler returns.
        var timeout = options.CurrentValue.HandlerTimeout;
        using var cancel = new CancellationTokenSource(timeout, clock);
        using var stopping = drain.HandlersStopping.UnsafeRegister(static c => ((CancellationTokenSource)c!).Cancel(), cancel);
        var handlerName = registration.HandlerType.Name;
        try
        {
            // Run inline: a handler that completes synchronously costs no thread hop and no timer.
            // The budget therefore holds for handlers that await; one that blocks a thread holds its own answer.
            var handler = (ICardActionHandler)services.GetRequiredService(registration.HandlerType);
            var running = handler.HandleAsync(context, cancel.Token);
            using var overdue = running.IsCompleted
                ? default
                : cancel.Token.UnsafeRegister(_ => WatchCancelled(running, handlerName, context, timeout), null);
            var result = await running ?? CardActionResult.None;
            if (result.AfterCommit.Count > 0)
            {
                EnsureRegistered(services, result.AfterCommit);
            }

            return IsWritable(result)
                ? (result, null)
                : throw new ArgumentException("The handler's result holds a string escaping half a surrogate pair (from a JSON document it parsed): no JSON writer takes it, so neither the answer nor the update for everyone could be sent.");
        }
        catch (HandlerStateConflictException)
        {
            return (null, null); // a conflict, not a bug in the handler: said once its unit is back (EndHandlerAsync)
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested && !drain.HandlersStopping.IsCancellationRequested)
        {
            Log.TimedOut(logger, handlerName, (long)timeout.TotalMilliseconds, context.CallbackId, context.CardId, context.UserId);
            return (null, null);
        }
        catch (CardParamsException ex)
        {
            // The click's params, not the handler's code: a warning naming the path, without a stack trace or the value.
            Log.ParamsNotBound(logger, handlerName, context.CallbackId, context.CardId, context.UserId, ex.Target.Name, ex.Message);
            return (null, null);
        }
        catch (Exception ex) when (mayRunAgain && Contention.Of(ex) is { } contention)
        {
            return (null, contention);
        }
        catch (Exception ex) when (StorageFailure.Of(ex) is { } storage && services.GetRequiredService<StorageSession>().ConnectionLost)
        {
            // The click's own transaction went with its connection (a PostgreSQL server restarting, a network cut) while
            // the handler used it: nothing of the click can be recorded, not even as failed. The database's failure, answered
            // 503 to retry (or, answered {} already, tried again), not the handler's.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(storage);
            throw;
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(logger, ex, handlerName, context.CallbackId, context.CardId, context.UserId);
            return (null, null);
        }
    }

    /// <summary>
    /// A handler's token was cancelled while it ran: past its timeout (a stop's cancelling is said by <see cref="HandlerDrain"/>).
    /// One that does not stop soon after ignores its token, and what its click holds stays held: that is said, once.
    /// </summary>
    private void WatchCancelled(Task running, string handlerName, CardActionContext context, TimeSpan timeout)
    {
        if (drain.HandlersStopping.IsCancellationRequested)
        {
            return;
        }

        _ = WatchAsync();

        async Task WatchAsync()
        {
            if (await Task.WhenAny(running, Task.Delay(HandlerDrain.AfterCancel, clock)) != running)
            {
                Log.IgnoresCancellation(logger, handlerName, (long)timeout.TotalMilliseconds, context.CallbackId, context.CardId, (long)HandlerDrain.AfterCancel.TotalMilliseconds);
            }
        }
    }

    /// <summary>
    /// An effect the result asks for that this process cannot run fails the handler, naming the line to add — also one of
    /// another class than the effect registered under its name, which would otherwise run with this one's payload.
    /// </summary>
    private static void EnsureRegistered(IServiceProvider services, IReadOnlyList<AfterCommitEffect> effects)
    {
        var registry = services.GetRequiredService<CardEffectRegistry>();
        foreach (var effect in effects)
        {
            if (registry.Find(effect.Effect) is not { } registered)
            {
                throw new ArgumentException($"The handler's result asks for effect {effect.Effect}, which is not registered: add services.AddCardEffect<{effect.Effect}, …>().");
            }

            if (effect.EffectType is { } asked && asked != registered.EffectType)
            {
                throw new ArgumentException(
                    $"The handler's result asks for effect {asked.FullName}, but the effect registered under the name {effect.Effect} is {registered.EffectType.FullName}. "
                    + "Effects are stored under their type's name, so rename one of the classes (and register the one asked for with services.AddCardEffect).");
            }
        }
    }

    /// <summary>
    /// SQLite's writer is not held while the handler waits on something else — unless it wrote something that cannot be
    /// written again after the wait (a card, an update for everyone queued through <see cref="CardUpdates"/>). Then every
    /// other click waits for it, so a wait that goes on past <see cref="HeldWriterWarning"/> is said, naming the handler.
    /// </summary>
    private async Task LeaveWriterWhileWaitingAsync(StorageSession session, Task handling, string handlerName, CardAction action)
    {
        try
        {
            var waitingFrom = clock.GetTimestamp();
            if (await session.LeaveWriterWhileWaitingAsync(handling)
                && await Task.WhenAny(handling, Task.Delay(HeldWriterWarning, clock)) != handling)
            {
                Log.HoldsWriter(logger, handlerName, action.CallbackId, action.CardId, (long)clock.GetElapsedTime(waitingFrom).TotalMilliseconds);
            }
        }
        catch (Exception)
        {
            // only a log line is lost: the handler's own storage calls and its end say what went wrong with the session
        }
    }

    /// <summary>
    /// The handler is done: its unit is back on SQLite's writer if it had left it. A state it changed that another click
    /// changed meanwhile makes its result unusable: it is run again if it <paramref name="mayRunAgain"/>, else it failed.
    /// </summary>
    private async Task<(CardActionResult? Result, bool Conflicted)> EndHandlerAsync(
        StorageSession session, CardActionResult? result, string handlerName, CardActionContext context, bool mayRunAgain)
    {
        if (await session.EndHandlerAsync())
        {
            return (result, false);
        }

        if (!mayRunAgain)
        {
            Log.Conflicted(logger, handlerName, context.CallbackId, context.CardId, context.UserId, context.Run);
        }

        return (null, true);
    }

    /// <summary>A handler's update for everyone, merged into its stored card and queued in the outbox, in the callback's transaction.</summary>
    private static Task QueueForEveryoneAsync(IServiceProvider services, CardActionContext context, EveryoneUpdate everyone) =>
        services.GetRequiredService<CardUpdates>().QueueLastAsync(
            new PendingCardUpdate(
                context.CardId,
                context.CardKind,
                everyone.CardData,
                everyone.PrivateData?.ToDictionary(p => p.Key, p => (IReadOnlyDictionary<string, System.Text.Json.JsonElement>)p.Value, StringComparer.Ordinal),
                RobotBlocks: everyone.RobotBlocks),
            CancellationToken.None);

    /// <summary>
    /// Records the outcome, then commits (a handler's update for everyone is queued already: <see cref="QueueForEveryoneAsync"/>).
    /// A failed handler's partial state changes are rolled back to before it ran; the callback's record stays. A
    /// callback answered <c>{}</c> at its budget meanwhile (<see cref="AnswerInTimeAsync"/>) is recorded as DingTalk got
    /// it: <c>{}</c>, and, handled, as overran.
    /// </summary>
    private async Task<CallbackReply> CommitAsync(
        IServiceProvider services,
        CardAction action,
        AnswerTimeline timeline,
        CallbackOutcome outcome,
        string? handler,
        CardCallbackResponse answer)
    {
        var session = services.GetRequiredService<StorageSession>();
        if (outcome == CallbackOutcome.HandlerFailed)
        {
            await session.RollbackToAsync(BeforeHandler, CancellationToken.None);
        }

        if (!timeline.TryCommit())
        {
            (outcome, answer) = (outcome == CallbackOutcome.Handled ? CallbackOutcome.Overran : outcome, CardCallbackResponse.Empty);
        }

        var json = answer.ToJson();
        await services.GetRequiredService<ICallbackStore>().CompleteAsync(action.CallbackId, outcome, handler, json, CancellationToken.None);
        await session.CommitAsync(CancellationToken.None);
        refusedRequests?.WentThrough(); // the database takes clicks again, if it had failed them (4141)
        databaseBack?.Answered(); // and the clicks waiting to try again after losing their way to it try now
        await session.DisposeAsync(); // the connection goes back to the pool while follow-ups run
        return new CallbackReply(action.CallbackId, outcome, Redelivery: false, json, handler);
    }

    /// <summary>
    /// Whether the values a handler returned can be written as JSON — the same check as a callback's <c>params</c> get
    /// (<see cref="JsonUnicode"/>): one that cannot would fail the answer, or the outbox's write inside the commit.
    /// </summary>
    private static bool IsWritable(CardActionResult result) =>
        JsonUnicode.IsValid(result.Clicker?.CardData?.Values)
        && JsonUnicode.IsValid(result.Clicker?.PrivateData?.Values)
        && JsonUnicode.IsValid(result.Everyone?.CardData?.Values)
        && JsonUnicode.IsValid(result.Everyone?.PrivateData?.Values);

    /// <summary>After the answer: the outbox may send the update for everyone; then streamed text. The scope lives until both are done.</summary>
    private async Task FollowUpAsync(AsyncServiceScope scope, CardActionResult? result, CardActionContext context, Task answerSent)
    {
        try
        {
            if (result is null || (result.Everyone is null or { IsEmpty: true } && result.Stream is null))
            {
                return;
            }

            await answerSent;
            if (result.Everyone is { IsEmpty: false })
            {
                outbox.AnswerSent(context.CardId);
            }

            if (result.Stream is { } stream)
            {
                await typewriter.TypeAsync(context, stream, stop.Over); // typed on through a stop's delay, cut off as the stop proper begins
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.FollowUpFailed(logger, ex, context.CallbackId, context.CardId);
        }
        catch (OperationCanceledException)
        {
            // shutting down
        }
        finally
        {
            await scope.DisposeAsync();
        }
    }

    /// <summary>
    /// A retried delivery gets the first one's answer (waiting for it if it is still being handled), never a second run;
    /// null when no record has come within <see cref="ReclaimInterval"/> and the budget is not spent: the caller tries the
    /// claim again, which only a delivery whose transaction ended without a record lets through.
    /// </summary>
    /// <remarks>Its wait ends at the budget counted from its arrival, as a first delivery's answer would.</remarks>
    private async Task<CallbackReply?> AnswerRedeliveryAsync(ICallbackStore callbacks, CardAction action, AnswerTimeline timeline)
    {
        var budget = options.CurrentValue.HandlerBudget;
        var remaining = timeline.Remaining(budget);
        var earlier = await callbacks.FindAsync(action.CallbackId, remaining < ReclaimInterval ? remaining : ReclaimInterval, CancellationToken.None);
        if (earlier is null && timeline.Remaining(budget) > TimeSpan.Zero)
        {
            return null;
        }

        if (earlier is { Outcome: CallbackOutcome.Pending })
        {
            earlier = await callbacks.FindAsync(action.CallbackId, timeline.Remaining(budget), CancellationToken.None) ?? earlier;
        }

        var outcome = earlier?.Outcome ?? CallbackOutcome.Pending;
        if (!timeline.IsSeeingThrough)
        {
            if (timeline.TryAnswerRedelivery())
            {
                Log.Redelivered(logger, action.CallbackId, action.CardId, outcome);
            }

            if (earlier is null)
            {
                // DingTalk gets {} and will not deliver the click again, while the delivery holding it has not recorded it
                // yet: should that one end without a record after all, this click is nobody's but this delivery's.
                _ = SeeThroughAsync(action);
            }
        }

        return new CallbackReply(action.CallbackId, outcome, Redelivery: true, earlier?.AnswerJson ?? "{}");
    }

    /// <summary>
    /// A redelivery answered <c>{}</c> while the delivery holding its click had not recorded it: the claim is tried again
    /// now and then until that delivery's record is there, or the claim goes through — that delivery ended without a
    /// record (its replica killed, its commit failed, or, on PostgreSQL, its replica stopped inside its transaction, which
    /// the database ends past <see cref="CallbackHandlingOptions.TransactionIdleLimit"/>) — and the click is handled here,
    /// recorded as answered early. Given up past <see cref="SeeThroughLimit"/>, or when the gateway stops.
    /// </summary>
    private async Task SeeThroughAsync(CardAction action)
    {
        var limit = SeeThroughLimit(options.CurrentValue);
        var started = clock.GetTimestamp();
        AnswerTimeline? trying = null;
        try
        {
            while (clock.GetElapsedTime(started) < limit)
            {
                await Task.Delay(SeeThroughInterval, clock, stop.Over);
                trying = AnswerTimeline.SeeingThrough(clock);
                var reply = await HandleOnceAsync(action, trying, Task.CompletedTask, CancellationToken.None);
                if (!reply.Redelivery)
                {
                    Log.Reclaimed(logger, action.CallbackId, action.CardId);
                    return;
                }

                if (reply.Outcome != CallbackOutcome.Pending)
                {
                    return; // the delivery that held it recorded it
                }
            }

            Log.NotSeenThrough(logger, action.CallbackId, action.CardId, (long)limit.TotalSeconds);
        }
        catch (OperationCanceledException) when (stop.Over.IsCancellationRequested)
        {
            // stopping: the click stays with the delivery that holds it
        }
        catch (Exception ex) when (trying is { HoldsClaim: false })
        {
            Log.FailedWhileHeldElsewhere(logger, ex, action.CallbackId, action.CardId); // still refused the claim: the holder has the click
        }
        catch (Exception ex)
        {
            await TryAgainAsync(action, ex); // it held the claim: the click is this delivery's now
        }
    }

    /// <summary>
    /// How long a redelivery answered <c>{}</c> keeps trying to see its click through: longer than the delivery holding it
    /// can keep it alive — every run its handler may get (<see cref="CallbackHandlingOptions.ConflictRetries"/> more than
    /// one), each up to <see cref="CallbackHandlingOptions.HandlerTimeout"/> and the wait for its cancellation, and one
    /// <see cref="CallbackHandlingOptions.HandlerTimeout"/> more to spare — and, on PostgreSQL, than the transaction's idle limit, past which the database ends a
    /// holder that stopped.
    /// </summary>
    internal static TimeSpan SeeThroughLimit(CallbackHandlingOptions options)
    {
        var holding = ((options.HandlerTimeout + HandlerDrain.AfterCancel) * (1 + options.ConflictRetries)) + options.HandlerTimeout; // twice HandlerTimeout at least
        var idle = options.TransactionIdleLimit + TimeSpan.FromSeconds(5);
        return holding > idle ? holding : idle;
    }

    private static partial class Log
    {
        [LoggerMessage(3101, LogLevel.Warning, "No handler for action '{Action:l}' on template '{TemplateId:l}' for callback {CallbackId} (card {CardId}, user {UserId}; {Clicked:l}); acknowledged with {{}}. Register one: {Registration:l}")]
        public static partial void NoHandler(ILogger logger, string action, string templateId, string callbackId, string cardId, string userId, string clicked, string registration);

        [LoggerMessage(3102, LogLevel.Error, "Handler {Handler} failed on callback {CallbackId} (card {CardId}, user {UserId}); the user got {{}}")]
        public static partial void HandlerFailed(ILogger logger, Exception exception, string handler, string callbackId, string cardId, string userId);

        [LoggerMessage(3123, LogLevel.Warning, "{Handler:l} could not bind params for callback {CallbackId} (card {CardId}, user {UserId}) to {Target:l}: {Problem:l}. The user got {{}} and the click is recorded HandlerFailed; catch CardParamsException in the handler to answer otherwise")]
        public static partial void ParamsNotBound(ILogger logger, string handler, string callbackId, string cardId, string userId, string target, string problem);

        [LoggerMessage(3103, LogLevel.Warning, "Handler {Handler} ran past its {BudgetMs} ms budget on callback {CallbackId} (card {CardId}), counted from the callback's arrival: answered without its clicker update; its update for everyone follows when it finishes")]
        public static partial void Overran(ILogger logger, string handler, long budgetMs, string callbackId, string cardId);

        [LoggerMessage(3104, LogLevel.Information, "Callback {CallbackId} (card {CardId}) delivered again; answered as before ({Outcome}), not handled twice")]
        public static partial void Redelivered(ILogger logger, string callbackId, string cardId, CallbackOutcome outcome);

        [LoggerMessage(3117, LogLevel.Warning, "Callback {CallbackId} (card {CardId}) was delivered again while another delivery of it held it, and that one ended without recording it (its gateway died or its transaction failed): handled now, by this delivery")]
        public static partial void Reclaimed(ILogger logger, string callbackId, string cardId);

        [LoggerMessage(3106, LogLevel.Warning, "Handler {Handler} waited on something while another click changed the state it had changed, on callback {CallbackId} (card {CardId}, user {UserId}), in its run {Run}, the last Gateway:Callbacks:ConflictRetries allows: its change and result were not kept; the user got {{}}")]
        public static partial void Conflicted(ILogger logger, string handler, string callbackId, string cardId, string userId, int run);

        [LoggerMessage(3119, LogLevel.Information, "Handler {Handler} met another click on callback {CallbackId} (card {CardId}, user {UserId}): {Reason:l}. Its changes are undone and it runs again on what that click left (run {Run} of at most {Runs})")]
        public static partial void RunAgain(ILogger logger, string handler, string callbackId, string cardId, string userId, string reason, int run, int runs);

        [LoggerMessage(
            3110,
            LogLevel.Warning,
            "Callback {CallbackId} (card {CardId}, {Transport}) answered {ElapsedMs} ms after it arrived, at or past Gateway:Callbacks:LateAnswer ({LateMs} ms; DingTalk waits 2000 ms, then shows the user an error). Slowest part: {Slowest:l} — reading and verifying {ReadingMs} ms, storage {StorageMs} ms, handler {Handler} {HandlerMs} ms, commit {CommitMs} ms")]
        public static partial void AnsweredLate(
            ILogger logger, string callbackId, string cardId, CallbackTransport transport, long elapsedMs, long lateMs, string slowest, long readingMs, long storageMs, string handler, long handlerMs, long commitMs);

        [LoggerMessage(
            3111,
            LogLevel.Warning,
            "Callback {CallbackId} (card {CardId}) had not reached its handler {BudgetMs} ms after it arrived (Gateway:Callbacks:HandlerBudget): {ReadingMs} ms reading, verifying and waiting for a slot, then {StorageMs} ms waiting on storage. Answered {{}} now, so DingTalk shows the user no error. As soon as storage lets it, it is handled and its update for everyone follows (or, if DingTalk had delivered it before, it is left to that delivery)")]
        public static partial void AnsweredBeforeHandler(ILogger logger, string callbackId, string cardId, long budgetMs, long readingMs, long storageMs);

        [LoggerMessage(
            3113,
            LogLevel.Warning,
            "Handler {Handler} ended in time on callback {CallbackId} (card {CardId}), but storage had not let its outcome be committed {BudgetMs} ms after the callback arrived (Gateway:Callbacks:HandlerBudget): answered {{}} now, without its clicker update, so DingTalk shows the user no error. Its outcome is committed as soon as storage lets it (a handled click as overran, a failed one as failed), and its update for everyone, if any, follows")]
        public static partial void AnsweredBeforeCommit(ILogger logger, string handler, string callbackId, string cardId, long budgetMs);

        [LoggerMessage(
            3114,
            LogLevel.Warning,
            "Handler {Handler} has held SQLite's writer for {HeldMs} ms on callback {CallbackId} (card {CardId}) while it waits on something else: it wrote a card or queued an update for everyone (CardUpdates) before the wait, which cannot be written again after it, so until it ends every other click waits for storage. Return the update in the handler's result (AndForEveryone) instead, or write it after the wait")]
        public static partial void HoldsWriter(ILogger logger, string handler, string callbackId, string cardId, long heldMs);

        [LoggerMessage(
            3115,
            LogLevel.Warning,
            "Handler {Handler} ran past Gateway:Callbacks:HandlerTimeout ({TimeoutMs} ms) on callback {CallbackId} (card {CardId}, user {UserId}) and was cancelled: the click is recorded as failed, its state changes undone, and what its transaction held let go. Its user had {{}} at the budget")]
        public static partial void TimedOut(ILogger logger, string handler, long timeoutMs, string callbackId, string cardId, string userId);

        [LoggerMessage(
            3116,
            LogLevel.Error,
            "Handler {Handler} was cancelled at Gateway:Callbacks:HandlerTimeout ({TimeoutMs} ms) on callback {CallbackId} (card {CardId}) and is still running {AfterMs} ms later: it ignores its CancellationToken. Until it returns, its click keeps its transaction open (on PostgreSQL the rows it locked, on SQLite the writer if it wrote a card first), and clicks needing them wait. Pass the handler's token to everything it awaits")]
        public static partial void IgnoresCancellation(ILogger logger, string handler, long timeoutMs, string callbackId, string cardId, long afterMs);

        [LoggerMessage(
            3118,
            LogLevel.Error,
            "Callback {CallbackId} (card {CardId}) was answered {{}} as a redelivery while another delivery held it, and that delivery has neither recorded it nor let it go in {LimitSeconds} s: if it never does (its replica gone, the database not noticing), the click is lost, though its user saw no error")]
        public static partial void NotSeenThrough(ILogger logger, string callbackId, string cardId, long limitSeconds);

        [LoggerMessage(3112, LogLevel.Error, "Callback {CallbackId} (card {CardId}), answered {{}} before it was committed, could not be handled or committed after all (tried again until the gateway stopped or the tries' limit passed; last: {Reason}): the click is lost, though its user saw no error")]
        public static partial void LostAfterEarlyAnswer(ILogger logger, Exception? exception, string callbackId, string cardId, string reason);

        [LoggerMessage(3132, LogLevel.Warning, "Callback {CallbackId} (card {CardId}), answered {{}} before it was committed, could not be handled or committed ({Reason}): DingTalk will not deliver it again, so it is handled again, at growing waits up to 10 s, until storage takes it (for up to {LimitSeconds} s, or until the gateway stops)")]
        public static partial void TryingAgain(ILogger logger, Exception? exception, string callbackId, string cardId, string reason, long limitSeconds);

        [LoggerMessage(3133, LogLevel.Information, "Callback {CallbackId} (card {CardId}), answered {{}} before storage failed under it, was handled on try {Try} ({Outcome}): nothing is lost")]
        public static partial void HandledOnRetry(ILogger logger, string callbackId, string cardId, int @try, CallbackOutcome outcome);

        [LoggerMessage(3135, LogLevel.Warning, "Callback {CallbackId} (card {CardId}, user {UserId}) was answered {{}} by a process that died before committing it: kept on disk, it is handled now ({Outcome}), so the click is not lost")]
        public static partial void Recovered(ILogger logger, string callbackId, string cardId, string userId, CallbackOutcome outcome);

        [LoggerMessage(3125, LogLevel.Warning, "Callback {CallbackId} (card {CardId}), a redelivery answered {{}} while another delivery of it held the click, met an error before that delivery recorded it: nothing is lost unless that delivery fails too — it holds the click and records it (GET /api/callbacks/{{callbackId}}). Should it end without a record now, no redelivery is left to take the click over")]
        public static partial void FailedWhileHeldElsewhere(ILogger logger, Exception exception, string callbackId, string cardId);

        [LoggerMessage(3120, LogLevel.Warning, "Callback {CallbackId} (card {CardId}), answered {{}} before it was committed, could not be committed by this delivery ({Error}), but another delivery had recorded it ({Outcome}): nothing is lost. Its transaction was ended under it: on PostgreSQL, past the longest a callback's transaction may sit idle (its handler ran past Gateway:Callbacks:HandlerTimeout, deaf to its token, or its process was stopped), after which a redelivery took the click over")]
        public static partial void RecordedElsewhere(ILogger logger, string callbackId, string cardId, CallbackOutcome outcome, string error);

        [LoggerMessage(3105, LogLevel.Error, "Typing the text of callback {CallbackId} into card {CardId} failed: typing stopped, and the card may show the text unfinished. Its update for everyone, if any, is in the outbox and goes out all the same")]
        public static partial void FollowUpFailed(ILogger logger, Exception exception, string callbackId, string cardId);
    }
}
