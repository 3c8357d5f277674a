using Dapper;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Handlers.Effects;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Runs the effects committed clicks queued (<see cref="SqlEffects"/>), apart from the outbox: a failing webhook never holds
/// a card's updates back. A replica claims due effects in one write that moves their <c>available_at</c> past
/// <see cref="OutboxOptions.EffectTimeout"/> (its hold on them, renewed while the run goes on; on PostgreSQL the rows are
/// picked <c>FOR UPDATE SKIP LOCKED</c>, so two replicas never claim one) and counts the attempt; it runs each in a scope of its own, then marks it
/// done — or schedules a retry with the outbox's backoff, or gives it up as dead (a permanent failure, or failing past
/// <see cref="OutboxOptions.GiveUpAfter"/>). Every mark is fenced by the claim (owner and attempt), so a replica whose hold
/// ran out and was taken over marks nothing. A process dying mid-run leaves its hold to run out (on a SQLite file, freed at
/// its restart): at least once, each run given the same idempotency key.
/// </summary>
public sealed partial class EffectDispatcher(
    GatewayDatabase database,
    SqliteWriteBatcher batcher,
    CardEffectRegistry registry,
    IServiceScopeFactory scopes,
    EffectSignal signal,
    IOptionsMonitor<OutboxOptions> options,
    IOptionsMonitor<CallbackHandlingOptions> callbacks,
    IHostApplicationLifetime lifetime,
    GatewayMetrics metrics,
    TimeProvider clock,
    ILogger<EffectDispatcher> logger) : BackgroundService
{
    /// <summary>A claim holds an effect this much longer than its run may take: the marking write after it, clocks a little apart.</summary>
    internal static readonly TimeSpan HoldMargin = TimeSpan.FromSeconds(1);

    private readonly string _owner = LeaseRenewal.NewOwner();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Counted on their own loop, as the outbox's entries are: the gauge goes on while the dispatcher waits on slow effects.
        var counting = PendingAndDeadCount.LoopAsync(CountAsync, () => options.CurrentValue.CountInterval, clock, stoppingToken);
        await DispatchAsync(stoppingToken);
        await counting;
    }

    /// <summary>The effects not done, counted for the <c>cardgateway.effects</c> gauge: one query for every effect.</summary>
    public async Task CountAsync(CancellationToken cancellationToken)
    {
        var (pending, dead) = await PendingAndDeadCount.QueryAsync(batcher, "effects", cancellationToken);
        metrics.EffectsCounted(pending, dead);
    }

    private async Task DispatchAsync(CancellationToken stoppingToken)
    {
        // Claims stop as the host begins to stop; effects under way get the stop's grace (RunAsync).
        using var claiming = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, lifetime.ApplicationStopping);
        var running = new List<Task>();
        try
        {
            try
            {
                await ReleaseEndedHoldsAsync(claiming.Token);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The holds then run out as on PostgreSQL.
                Log.DispatchFailed(logger, RepeatedFailure.StackWorthLogging(ex), SchemaMigrator.Describe(ex), (long)options.CurrentValue.RetryBaseDelay.TotalMilliseconds);
            }

            var failing = new RepeatedFailure();

            while (!claiming.IsCancellationRequested)
            {
                running.RemoveAll(t => t.IsCompleted);
                var free = options.CurrentValue.Concurrency - running.Count;
                try
                {
                    if (free <= 0)
                    {
                        // WaitAsync lets go of the token once a run ends: a Task.Delay on it per pass stayed registered
                        // until the stop, so slow effects filling every slot made the token's registrations grow.
                        await Task.WhenAny(running).WaitAsync(claiming.Token);
                        continue;
                    }

                    var claimed = await ClaimAsync(free, claiming.Token);
                    if (failing.Ended() is > 0 and var failed)
                    {
                        Log.DispatchBack(logger, failed);
                    }

                    running.AddRange(claimed.Select(RunAsync));
                    if (claimed.Count == 0)
                    {
                        await signal.WaitAsync(options.CurrentValue.PollInterval, claiming.Token);
                    }
                }
                catch (OperationCanceledException) when (claiming.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception ex)
                {
                    // The database is away or refuses to write: said once, tried again; nothing is lost, the effects stay pending.
                    if (failing.Failed())
                    {
                        Log.DispatchFailed(logger, RepeatedFailure.StackWorthLogging(ex), SchemaMigrator.Describe(ex), (long)options.CurrentValue.RetryBaseDelay.TotalMilliseconds);
                    }

                    await Task.Delay(options.CurrentValue.RetryBaseDelay, clock, claiming.Token).ContinueWith(_ => { }, TaskScheduler.Default);
                }
            }
        }
        catch (OperationCanceledException) when (claiming.IsCancellationRequested)
        {
            // stopping before the first claim
        }

        await Task.WhenAll(running);
    }

    /// <summary>
    /// On a SQLite file only this process uses, an effect held by an earlier process was being run when that process ended
    /// (a crash, a kill): due again at once instead of when its hold runs out. On PostgreSQL a hold may be another
    /// replica's, alive: left to run out.
    /// </summary>
    private async Task ReleaseEndedHoldsAsync(CancellationToken cancellationToken)
    {
        if (!database.Exclusive)
        {
            return;
        }

        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var released = await StorageSession.ExecuteAsync(
            database,
            batcher,
            "UPDATE effects SET available_at = @now, owner = NULL WHERE status = 'Pending' AND owner IS NOT NULL",
            new { now },
            cancellationToken);
        if (released > 0)
        {
            Log.HoldsReleased(logger, released);
        }
    }

    /// <summary>Up to <paramref name="limit"/> due effects, claimed for this replica (oldest due first); none when none is due.</summary>
    internal async Task<IReadOnlyList<SqlEffects.EffectRow>> ClaimAsync(int limit, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();

        // Looked for beside the writer first: an idle gateway's poll costs SQLite no write turn.
        if ((await batcher.QueryBesideAsync<long>("SELECT id FROM effects WHERE status = 'Pending' AND available_at <= @now LIMIT 1", new { now }, cancellationToken)).Count == 0)
        {
            return [];
        }

        var holdUntil = (clock.GetUtcNow() + options.CurrentValue.EffectTimeout + HoldMargin).ToUnixTimeMilliseconds();
        await using var session = new StorageSession(database, batcher);
        return await session.WriteAsync(
            async (connection, transaction) => (IReadOnlyList<SqlEffects.EffectRow>)(await connection.QueryAsync<SqlEffects.EffectRow>(new CommandDefinition(
                $"""
                UPDATE effects SET attempts = attempts + 1, owner = @owner, available_at = @holdUntil
                WHERE id IN (
                    SELECT id FROM effects WHERE status = 'Pending' AND available_at <= @now
                    ORDER BY available_at, id LIMIT @limit{database.Dialect.SkipLockedRows}
                ) AND status = 'Pending' AND available_at <= @now
                RETURNING id, callback_id, effect_index, card_id, name, payload, status, attempts, created_at, available_at, done_at, last_error, retried_at
                """,
                new { owner = _owner, holdUntil, now, limit },
                transaction,
                cancellationToken: cancellationToken))).AsList(),
            cancellationToken);
    }

    /// <summary>One run of a claimed effect, and its mark: done, retried, or dead. Never throws.</summary>
    internal async Task RunAsync(SqlEffects.EffectRow effect)
    {
        var o = options.CurrentValue;
        var key = SqlEffects.IdempotencyKey(effect.CallbackId, effect.EffectIndex);
        try
        {
            if (registry.Find(effect.Name) is not { } registration)
            {
                // A replica of an older or newer build, say: one that knows it runs it. Retried like a failure until then.
                Log.NotRegistered(logger, effect.Name, effect.CallbackId);
                await FailAsync(effect, $"No effect named {effect.Name} is registered in this process (services.AddCardEffect<{effect.Name}, …>())", permanent: false, o);
                return;
            }

            // Cancelled past the effect's timeout, or once the stop's grace is over, whichever comes first (an effect still
            // running is retried later): a stop never moves the timeout on. Also cancelled once its hold is found another's.
            using var timeout = new CancellationTokenSource(o.EffectTimeout, clock);
            using var cutOff = new CancellationTokenSource(Timeout.InfiniteTimeSpan, clock);
            using var holdLost = new CancellationTokenSource();
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cutOff.Token, holdLost.Token);
            var grace = callbacks.CurrentValue.StopGrace;
            using var stopping = lifetime.ApplicationStopping.Register(() => cutOff.CancelAfter(grace));

            // The hold is renewed for as long as the run goes on, so the effect is never claimed again beside a run that
            // outlives it: one deaf to its cancelled token keeps it until it returns (a crash still lets it run out).
            using var ended = new CancellationTokenSource();
            var hold = o.EffectTimeout + HoldMargin;
            var holding = LeaseRenewal.KeepAsync(
                token => RenewHoldAsync(effect, hold, token),
                hold,
                DateTimeOffset.FromUnixTimeMilliseconds(effect.AvailableAt),
                clock,
                ex => Log.HoldRenewalFailed(logger, ex, effect.Name, effect.CallbackId),
                holdLost,
                ended.Token);
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var run = registration.RunAsync(
                    scope.ServiceProvider,
                    new CardEffectRun<string>(key, effect.CallbackId, effect.CardId, effect.Name, effect.Attempts, effect.Payload),
                    cancel.Token);
                await AwaitRunAsync(run, effect, cancel.Token, holdLost.Token);
            }
            catch (OperationCanceledException) when (holdLost.IsCancellationRequested && !timeout.IsCancellationRequested && !cutOff.IsCancellationRequested)
            {
                Log.HoldLost(logger, effect.Name, effect.CallbackId, effect.Attempts); // the replica holding it now marks it
                return;
            }
            catch (PermanentEffectFailureException ex)
            {
                await FailAsync(effect, Describe(ex), permanent: true, o);
                return;
            }
            catch (OperationCanceledException) when (cutOff.IsCancellationRequested)
            {
                const string error = "Cut off as the gateway stopped";
                if (!await MarkAsync(effect, error, "available_at = @now, owner = NULL, last_error = @error", new { error })) // due again at once
                {
                    return;
                }

                Log.CutOffByStop(logger, effect.Name, effect.CallbackId, effect.Attempts, (long)grace.TotalMilliseconds);
                metrics.EffectRan(effect.Name, "retrying");
                return;
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                Log.TimedOut(logger, effect.Name, effect.CallbackId, effect.Attempts, (long)o.EffectTimeout.TotalMilliseconds);
                await FailAsync(effect, $"Ran past Gateway:Outbox:EffectTimeout ({(long)o.EffectTimeout.TotalMilliseconds} ms)", permanent: false, o);
                return;
            }
            catch (Exception ex)
            {
                await FailAsync(effect, Describe(ex), permanent: false, o, ex);
                return;
            }
            finally
            {
                await ended.CancelAsync();
                await holding;
            }

            if (!await MarkAsync(effect, "ran to its end", "status = 'Done', done_at = @now, owner = NULL", new { }))
            {
                return;
            }

            metrics.EffectRan(effect.Name, "done");
            Log.Ran(logger, effect.Name, effect.CallbackId, effect.CardId, effect.Attempts);
        }
        catch (Exception ex)
        {
            // The mark could not be written (the database away): the hold runs out and the effect runs again, at least once.
            Log.MarkFailed(logger, ex, effect.Name, effect.CallbackId);
        }
    }

    /// <summary>
    /// Waits for <paramref name="run"/> to end, however it ends; once its token is cancelled and it has not ended within
    /// <see cref="HoldMargin"/>, says once that it is deaf to the token (its hold is kept meanwhile, its slot taken).
    /// </summary>
    private async Task AwaitRunAsync(Task run, SqlEffects.EffectRow effect, CancellationToken cancelled, CancellationToken holdLost)
    {
        try
        {
            await run.WaitAsync(cancelled);
            return;
        }
        catch (OperationCanceledException) when (cancelled.IsCancellationRequested)
        {
            // cancelled: the run is told, and given the margin to see it (below, its own outcome)
        }

        if (!run.IsCompleted)
        {
            try
            {
                await run.WaitAsync(HoldMargin, clock, CancellationToken.None);
                return;
            }
            catch (TimeoutException) when (!run.IsCompleted)
            {
                if (holdLost.IsCancellationRequested)
                {
                    Log.DeafBesideAnother(logger, effect.Name, effect.CallbackId, effect.Attempts, (long)HoldMargin.TotalMilliseconds);
                }
                else
                {
                    Log.DeafToCancellation(logger, effect.Name, effect.CallbackId, effect.Attempts, (long)HoldMargin.TotalMilliseconds);
                }
            }
        }

        await run;
    }

    /// <summary>Moves the effect's hold <paramref name="hold"/> on from now, while it is still this replica's claim; false once it is not.</summary>
    private async Task<bool> RenewHoldAsync(SqlEffects.EffectRow effect, TimeSpan hold, CancellationToken cancellationToken) =>
        await WriteClaimedAsync(effect, "available_at = @holdUntil", new { holdUntil = (clock.GetUtcNow() + hold).ToUnixTimeMilliseconds() }, cancellationToken) > 0;

    private async Task FailAsync(SqlEffects.EffectRow effect, string error, bool permanent, OutboxOptions o, Exception? exception = null)
    {
        var now = clock.GetUtcNow();
        // Counted from its click, or from when an operator last ran it again after it was dead.
        if (permanent || DateTimeOffset.FromUnixTimeMilliseconds(effect.RetriedAt ?? effect.CreatedAt) <= now - o.GiveUpAfter)
        {
            if (!await MarkAsync(effect, error, "status = 'Dead', owner = NULL, last_error = @error", new { error }))
            {
                return;
            }

            metrics.EffectRan(effect.Name, "dead");
            if (permanent)
            {
                Log.Refused(logger, effect.Name, effect.CallbackId, effect.CardId, effect.Attempts, error, effect.Id);
            }
            else
            {
                Log.GivenUp(logger, effect.Name, effect.CallbackId, effect.CardId, effect.Attempts, error, effect.Id);
            }

            return;
        }

        var delay = o.RetryDelay(effect.Attempts);
        if (!await MarkAsync(effect, error, "available_at = @retryAt, owner = NULL, last_error = @error", new { error, retryAt = (now + delay).ToUnixTimeMilliseconds() }))
        {
            return;
        }

        metrics.EffectRan(effect.Name, "retrying");
        Log.WillRetry(logger, exception, effect.Name, effect.CallbackId, effect.CardId, effect.Attempts, error, (long)delay.TotalMilliseconds);
    }

    /// <summary>
    /// Marks how the run ended (<paramref name="set"/>) while this replica's claim of the effect still stands; false, said
    /// once (8018), when it does not: the run, deaf to its cancelled token, ended after its hold became another replica's,
    /// which runs the effect and marks it — so nothing is reported run, retried or dead here.
    /// </summary>
    private async Task<bool> MarkAsync(SqlEffects.EffectRow effect, string outcome, string set, object values)
    {
        if (await WriteClaimedAsync(effect, set, values, CancellationToken.None) > 0)
        {
            return true;
        }

        Log.EndedAfterHoldLost(logger, effect.Name, effect.CallbackId, effect.Attempts, outcome);
        return false;
    }

    /// <summary>Sets <paramref name="set"/> on the effect while this replica's claim of it (owner and attempt) still stands; the rows changed.</summary>
    private Task<int> WriteClaimedAsync(SqlEffects.EffectRow effect, string set, object values, CancellationToken cancellationToken)
    {
        var parameters = new DynamicParameters(values);
        parameters.Add("id", effect.Id);
        parameters.Add("owner", _owner);
        parameters.Add("attempts", effect.Attempts);
        parameters.Add("now", clock.GetUtcNow().ToUnixTimeMilliseconds());
        return StorageSession.ExecuteAsync(
            database,
            batcher,
            $"UPDATE effects SET {set} WHERE id = @id AND owner = @owner AND attempts = @attempts AND status = 'Pending'",
            parameters,
            cancellationToken);
    }

    private static string Describe(Exception ex) => ex.GetType().Name + ": " + ex.Message;

    private static partial class Log
    {
        [LoggerMessage(8001, LogLevel.Information, "Effect {Effect} of callback {CallbackId} (card {CardId}) ran, attempt {Attempt}")]
        public static partial void Ran(ILogger logger, string effect, string callbackId, string cardId, int attempt);

        [LoggerMessage(8002, LogLevel.Warning, "Effect {Effect} of callback {CallbackId} (card {CardId}) failed on attempt {Attempt}: {Error}; retrying in {DelayMs} ms")]
        public static partial void WillRetry(ILogger logger, Exception? exception, string effect, string callbackId, string cardId, int attempt, string error, long delayMs);

        [LoggerMessage(8003, LogLevel.Error, "Effect {Effect} of callback {CallbackId} (card {CardId}) is given up after {Attempts} attempts, failing past Gateway:Outbox:GiveUpAfter: {Error}. It stays visible, dead, in GET /api/cards (POST /api/effects/{EffectId}/retry runs it again once its cause is fixed)")]
        public static partial void GivenUp(ILogger logger, string effect, string callbackId, string cardId, int attempts, string error, long effectId);

        [LoggerMessage(8004, LogLevel.Error, "Effect {Effect} of callback {CallbackId} (card {CardId}) failed for good on attempt {Attempts} and is not retried: {Error}. It stays visible, dead, in GET /api/cards (POST /api/effects/{EffectId}/retry runs it again once its cause is fixed)")]
        public static partial void Refused(ILogger logger, string effect, string callbackId, string cardId, int attempts, string error, long effectId);

        [LoggerMessage(8005, LogLevel.Warning, "Effect {Effect} of callback {CallbackId} ran past Gateway:Outbox:EffectTimeout ({TimeoutMs} ms) on attempt {Attempt} and was cancelled; it is retried")]
        public static partial void TimedOut(ILogger logger, string effect, string callbackId, int attempt, long timeoutMs);

        [LoggerMessage(8006, LogLevel.Error, "The effect dispatcher failed ({Reason}); the effects stay pending, and it tries again every {RetryMs} ms without saying so until it goes through (8020)")]
        public static partial void DispatchFailed(ILogger logger, Exception? exception, string reason, long retryMs);

        [LoggerMessage(8020, LogLevel.Information, "The effect dispatcher goes through again after {Failures} failed passes")]
        public static partial void DispatchBack(ILogger logger, int failures);

        [LoggerMessage(8007, LogLevel.Warning, "Effect {Effect} of callback {CallbackId} was still running (attempt {Attempt}) when the stop's grace ({GraceMs} ms, Gateway:Callbacks:StopGrace) ended: cancelled, and run again once a gateway is up")]
        public static partial void CutOffByStop(ILogger logger, string effect, string callbackId, int attempt, long graceMs);

        [LoggerMessage(8008, LogLevel.Warning, "No effect named {Effect} (callback {CallbackId}) is registered in this process: retried with backoff until a gateway that registers it (services.AddCardEffect) runs it")]
        public static partial void NotRegistered(ILogger logger, string effect, string callbackId);

        [LoggerMessage(8009, LogLevel.Information, "Released {Effects} effect(s) a previous gateway process was running on this SQLite file when it ended (a crash or a kill): they run again at once")]
        public static partial void HoldsReleased(ILogger logger, int effects);

        [LoggerMessage(8015, LogLevel.Error, "Effect {Effect} of callback {CallbackId} goes on running (attempt {Attempt}) more than {MarginMs} ms after its CancellationToken was cancelled: it is deaf to it. Its hold is kept until it returns, so it is not run again beside itself, and it takes one of Gateway:Outbox:Concurrency's slots meanwhile: pass the token on to what it waits for")]
        public static partial void DeafToCancellation(ILogger logger, string effect, string callbackId, int attempt, long marginMs);

        [LoggerMessage(8016, LogLevel.Warning, "Effect {Effect} of callback {CallbackId} is claimed by another replica (attempt {Attempt} ran past its hold, the database away or this process frozen): this run is cancelled and marks nothing; the replica holding it now runs it (at least once)")]
        public static partial void HoldLost(ILogger logger, string effect, string callbackId, int attempt);

        [LoggerMessage(8017, LogLevel.Warning, "The hold on effect {Effect} of callback {CallbackId} could not be renewed (the database away); tried again while it lasts")]
        public static partial void HoldRenewalFailed(ILogger logger, Exception exception, string effect, string callbackId);

        [LoggerMessage(8018, LogLevel.Warning, "Effect {Effect} of callback {CallbackId} ended on attempt {Attempt} ({Outcome}) after its hold became another replica's (this run went on past it, deaf to its cancelled token): nothing is marked — neither run, retried nor dead; the replica holding it runs it and marks it")]
        public static partial void EndedAfterHoldLost(ILogger logger, string effect, string callbackId, int attempt, string outcome);

        [LoggerMessage(8019, LogLevel.Error, "Effect {Effect} of callback {CallbackId} goes on running (attempt {Attempt}) more than {MarginMs} ms after its hold became another replica's and its CancellationToken was cancelled: it is deaf to it, and may run beside that replica's run of it. Pass the token on to what it waits for")]
        public static partial void DeafBesideAnother(ILogger logger, string effect, string callbackId, int attempt, long marginMs);

        [LoggerMessage(8010, LogLevel.Error, "What became of effect {Effect} of callback {CallbackId} could not be recorded (the database away): it runs again once its hold runs out (at least once)")]
        public static partial void MarkFailed(ILogger logger, Exception exception, string effect, string callbackId);
    }
}
