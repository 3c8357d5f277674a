using System.Data.Common;
using Dapper;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Cards;

/// <summary>
/// On PostgreSQL, one pace per DingTalk API for every replica on the database: DingTalk's 20 calls a second are per app and
/// API, whichever replica makes them. Each call, once the replica's own limiter let it go (<see cref="ApiRateLimitingHandler"/>),
/// takes the API's next free turn in the database — one statement, on the database's clock, so the replicas' clocks do
/// not matter — and waits for it: turns are <see cref="Interval"/> apart (1 s ÷ <c>DingTalk:Outbound:PermitsPerSecondPerApi</c>,
/// rounded up to the millisecond), so all the replicas together make no more calls a second than that, and a busy replica
/// uses the turns an idle one leaves. No credit is kept for an idle API: a burst after a pause is paced like the rest.
/// A call whose turn would be more than <see cref="MaxWait"/> away takes none and fails like the replica's own full
/// queue (429 <c>gateway.rateLimitQueueFull</c>, retried by the resilience pipeline). A database that does not answer
/// within <see cref="StatementLimit"/> or fails is not waited for: calls go at the replica's own pace until it answers
/// again, said once (warning 4131, then information 4132). SQLite: one process, its own limiter is the whole pace.
/// </summary>
public sealed partial class SharedApiPace
{
    /// <summary>After a failure, calls go without the shared pace this long before one tries the database again.</summary>
    public static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(5);

    // The turn: the later of the API's next free turn and now, if within the wait limit; the next one is a turn later.
    // A new API's row starts at now plus a turn, its first call's own. Times are epoch milliseconds, the database's.
    private const string TakeTurnSql = $"""
        INSERT INTO outbound_pace (api, next_at)
        VALUES (@Api, {PostgresDialect.NowMilliseconds} + @IntervalMs)
        ON CONFLICT (api) DO UPDATE
            SET next_at = GREATEST(outbound_pace.next_at, EXCLUDED.next_at - @IntervalMs) + @IntervalMs
            WHERE outbound_pace.next_at <= EXCLUDED.next_at - @IntervalMs + @MaxWaitMs
        RETURNING next_at - @IntervalMs - {PostgresDialect.NowMilliseconds}
        """;

    private readonly GatewayDatabase? _database;
    private readonly TimeProvider _clock;
    private readonly ILogger<SharedApiPace> _logger;
    private long _failedAt; // a timestamp of _clock: the database's last failure
    private int _down; // 1 once the database failed the pace, until it answers again
    private int _trying; // 1 while one call tries a database that failed

    // No database where no storage is registered: the pace is then off, as on SQLite.
    public SharedApiPace(IOptions<DingTalkOptions> options, TimeProvider clock, ILogger<SharedApiPace> logger, GatewayDatabase? database = null)
    {
        _database = database?.Dialect is PostgresDialect ? database : null;
        (_clock, _logger) = (clock, logger);
        var outbound = options.Value.Outbound;
        Interval = TimeSpan.FromMilliseconds(Math.Ceiling(1000.0 / outbound.PermitsPerSecondPerApi));
        var queued = Interval * Math.Max(1, outbound.QueueLimitPerApi);
        MaxWait = queued < outbound.AttemptTimeout / 2 ? queued : outbound.AttemptTimeout / 2;
        StatementLimit = outbound.AttemptTimeout / 4;
    }

    /// <summary>
    /// The longest the turn's statement is waited for before the call goes without it: a quarter of the attempt's timeout
    /// (2.5 s by default), so the statement and the furthest turn (<see cref="MaxWait"/>) together leave the attempt a
    /// quarter of its time for DingTalk's answer.
    /// </summary>
    public TimeSpan StatementLimit { get; }

    /// <summary>Whether calls take turns in the database (PostgreSQL), not only the replica's own limiter.</summary>
    public bool Shared => _database is not null;

    /// <summary>Between two calls to one API, over all replicas.</summary>
    public TimeSpan Interval { get; }

    /// <summary>
    /// The furthest turn a call takes: as many turns as <c>QueueLimitPerApi</c> calls, and at most half the attempt's
    /// timeout (<c>DingTalk:Outbound:AttemptTimeout</c>), so a turn taken is a turn used — an attempt timed out while it
    /// waited would leave its turn unused and take another on its retry.
    /// </summary>
    public TimeSpan MaxWait { get; }

    /// <summary>
    /// Waits for <paramref name="api"/>'s next turn; false when it is more than <see cref="MaxWait"/> away (none taken).
    /// True at once without the shared pace (SQLite, or the database failing).
    /// </summary>
    public async Task<bool> WaitForTurnAsync(string api, CancellationToken cancellationToken)
    {
        if (await TakeTurnAsync(api, cancellationToken) is not { } wait)
        {
            return false;
        }

        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, _clock, cancellationToken);
        }

        return true;
    }

    /// <summary>
    /// Takes <paramref name="api"/>'s next turn: how long until it comes; null when it is more than <see cref="MaxWait"/>
    /// away (none taken); zero without the shared pace (SQLite, or the database failing).
    /// </summary>
    public async Task<TimeSpan?> TakeTurnAsync(string api, CancellationToken cancellationToken)
    {
        if (_database is null || !MayTry(out var trying))
        {
            return TimeSpan.Zero;
        }

        long? waitMs;
        // Armed before the statement starts. No cancellation token reaches Npgsql: it cancels by a request to the server,
        // waited for on the cancelling thread, which a black-holed database holds (StorageHealthCheck); the statement
        // ends on its own.
        using var limit = new CancellationTokenSource(StatementLimit, _clock);
        try
        {
            waitMs = await QueryTurnAsync(_database, api).WaitAsync(limit.Token).WaitAsync(cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            Failed(ex is OperationCanceledException && limit.IsCancellationRequested ? $"no answer within {StatementLimit.TotalSeconds:0.#} s" : SchemaMigrator.Describe(ex));
            return TimeSpan.Zero;
        }
        finally
        {
            if (trying)
            {
                Volatile.Write(ref _trying, 0);
            }
        }

        if (Interlocked.Exchange(ref _down, 0) == 1)
        {
            Log.Back(_logger);
        }

        return waitMs is { } wait ? TimeSpan.FromMilliseconds(Math.Max(0, wait)) : null;
    }

    /// <summary>
    /// Whether this call asks the database: always while it answers; after a failure, once <see cref="RetryAfterFailure"/>
    /// has passed, one call at a time (<paramref name="trying"/>: this one, which lets the next try when it is done).
    /// </summary>
    private bool MayTry(out bool trying)
    {
        trying = false;
        if (Volatile.Read(ref _down) == 0)
        {
            return true;
        }

        return trying = _clock.GetElapsedTime(Interlocked.Read(ref _failedAt)) >= RetryAfterFailure && Interlocked.CompareExchange(ref _trying, 1, 0) == 0;
    }

    private void Failed(string reason)
    {
        Interlocked.Exchange(ref _failedAt, _clock.GetTimestamp());
        if (Interlocked.Exchange(ref _down, 1) == 0)
        {
            Log.Unavailable(_logger, reason, (long)RetryAfterFailure.TotalSeconds);
        }
    }

    private async Task<long?> QueryTurnAsync(GatewayDatabase database, string api)
    {
        await using DbConnection connection = await database.OpenAsync(CancellationToken.None);
        return await connection.QuerySingleOrDefaultAsync<long?>(
            TakeTurnSql,
            new { Api = api, IntervalMs = (long)Interval.TotalMilliseconds, MaxWaitMs = (long)MaxWait.TotalMilliseconds });
    }

    private static partial class Log
    {
        [LoggerMessage(4131, LogLevel.Warning, "The database did not give a call to DingTalk its turn in the pace all replicas share ({Reason:l}): calls go at this replica's own pace (DingTalk:Outbound:PermitsPerSecondPerApi) until it answers again, tried every {RetrySeconds} s, so the replicas together may go past DingTalk's 20 calls a second per API meanwhile (its 403 throttling is retried)")]
        public static partial void Unavailable(ILogger logger, string reason, long retrySeconds);

        [LoggerMessage(4132, LogLevel.Information, "The database gives calls to DingTalk their turns again: all replicas share one pace per API")]
        public static partial void Back(ILogger logger);
    }
}
