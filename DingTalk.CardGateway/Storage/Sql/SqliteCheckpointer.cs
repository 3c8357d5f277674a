using System.Data.Common;
using System.Diagnostics;
using DingTalk.CardGateway.Hosting;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Copies SQLite's write-ahead log back into the database file beside the writer, instead of inside its commits.
/// </summary>
/// <remarks>
/// By default SQLite checkpoints in the commit that takes the WAL past 1,000 pages: that commit copies 4 MB and
/// fsyncs the database file while holding the write lock, so every callback queued behind it waits — the slowest
/// answers under load. Here the group-commit writer does not checkpoint; this service runs a PASSIVE checkpoint on a
/// connection of its own every <see cref="Interval"/> while commits happen, which copies without blocking the
/// writer. A WAL can only start over once it has been copied entirely with nothing written since, which a busy writer
/// never allows; so once it holds <see cref="RestartPages"/> pages the rest is copied during a turn of the writer
/// (<see cref="SqliteWriteBatcher.ExclusiveAsync{T}"/>), a short pause since most of it is copied already.
/// Durability is unchanged: a commit is durable in the WAL (<see cref="SqliteWalSync"/>) whether or not it was checkpointed.
/// </remarks>
public sealed partial class SqliteCheckpointer(
    GatewayDatabase database,
    SqliteWriteBatcher batcher,
    TimeProvider clock,
    ILogger<SqliteCheckpointer> logger) : BackgroundService
{
    /// <summary>How often the WAL is copied back while commits happen.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long the WAL may grow before a pass finishes during a turn of the writer so it can start over: 256 MB of 4 KB
    /// pages. That turn holds every click up for ~9 ms (0–18) whatever the WAL's size (it copies what came since the
    /// pass before it and fsyncs); at 16 MB it came five times a second under load and set the benchmark's p99, and at
    /// 64 MB (about once a second at ~10k votes/s) it still did: 9.6–11.6 ms against 7.4–8.3 at 256 MB, and 7.3–7.7
    /// with no restart at all (bench/callbacks.sh, bench/HISTORY.md). Only sustained load grows the WAL that far: when the writer
    /// pauses, a pass copies everything and the next commit starts the WAL over by itself.
    /// </summary>
    public int RestartPages { get; init; } = 65_536;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!database.CheckpointsInBackground)
        {
            return;
        }

        var checkpointed = batcher.Commits;
        var failing = new RepeatedFailure();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Interval, clock, stoppingToken);
                var commits = batcher.Commits;
                if (commits != checkpointed)
                {
                    var state = await CheckpointAsync(stoppingToken);
                    checkpointed = commits;
                    if (failing.Ended() is > 0 and var failed)
                    {
                        Log.Back(logger, failed, state.Pages);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The WAL keeps the commits meanwhile; nothing is lost, it only grows until the next pass. A pass fails ten
                // times a second while the disk is full: the first failure is said, the rest counted.
                if (failing.Failed())
                {
                    Log.Failed(logger, ex.Message, (long)Interval.TotalMilliseconds);
                }
            }
        }
    }

    /// <summary>
    /// One pass: a PASSIVE checkpoint, finished during a turn of the writer when the WAL is long enough to start over
    /// (even when the first pass copied it all: the WAL starts over only in a transaction begun after a complete copy,
    /// and the writer's open batch began before).
    /// </summary>
    public async Task<WalState> CheckpointAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var state = await PassiveAsync(connection, cancellationToken);
        if (state.Pages >= RestartPages)
        {
            var asked = Stopwatch.GetTimestamp();
            var held = 0L;
            state = await batcher.ExclusiveAsync(
                async () =>
                {
                    held = Stopwatch.GetTimestamp();
                    var copied = await PassiveAsync(connection, CancellationToken.None);
                    held = Stopwatch.GetTimestamp() - held;
                    return copied;
                },
                cancellationToken);
            Log.Restarting(logger, state.Pages, Stopwatch.GetElapsedTime(asked).TotalMilliseconds, Stopwatch.GetElapsedTime(0, held).TotalMilliseconds);
        }

        return state;
    }

    /// <summary>SQLite answers one row: busy, pages in the WAL, pages copied.</summary>
    private static Task<WalState> PassiveAsync(DbConnection connection, CancellationToken cancellationToken) =>
        connection.FirstOrDefaultAsync(null, "PRAGMA wal_checkpoint(PASSIVE)", r => new WalState(r.GetInt64(1), r.GetInt64(2)), cancellationToken);

    /// <summary>Pages in the WAL, and how many of them are in the database file.</summary>
    public readonly record struct WalState(long Pages, long Copied);

    private static partial class Log
    {
        [LoggerMessage(4303, LogLevel.Debug, "The SQLite WAL ({Pages} pages) was copied back to start over: {WaitedMs:0.0} ms from asking for the writer, {HeldMs:0.0} ms of it holding it")]
        public static partial void Restarting(ILogger logger, long pages, double waitedMs, double heldMs);

        [LoggerMessage(4301, LogLevel.Warning, "Could not checkpoint the SQLite WAL ({Reason}); it keeps every commit and is copied back by a later pass. Passes go on every {IntervalMs} ms; the next failures are not said, only when a pass goes through again (4305)")]
        public static partial void Failed(ILogger logger, string reason, long intervalMs);

        [LoggerMessage(4305, LogLevel.Information, "The SQLite WAL is checkpointed again after {FailedPasses} failed passes ({Pages} pages in it)")]
        public static partial void Back(ILogger logger, int failedPasses, long pages);
    }
}
