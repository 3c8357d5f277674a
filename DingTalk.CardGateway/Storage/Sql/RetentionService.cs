using Dapper;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Purges, hourly, callbacks (and with them their deduplication keys), sent outbox entries, dead letters resolved or
/// dismissed, done or dismissed effects and the typing leases of cards nobody has typed into for longer than
/// <c>Gateway:Storage:Retention</c>. Cards, handler state, dead letters not put right and dead effects stay.
/// </summary>
/// <remarks>
/// It deletes <see cref="RowsPerWrite"/> rows at a time, each part a write of its own: on SQLite a part is one turn of
/// the callbacks' group-commit writer, so a purge of an hour's callbacks never holds the clicks behind it for longer
/// than a few milliseconds (one DELETE of them all held the write lock for as long as it took — seconds on a busy
/// gateway, longer than DingTalk waits for an answer).
/// </remarks>
public sealed partial class RetentionService(
    GatewayDatabase database,
    SqliteWriteBatcher batcher,
    IOptionsMonitor<GatewayOptions> options,
    TimeProvider clock,
    ILogger<RetentionService> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    /// <summary>Rows one write deletes.</summary>
    public int RowsPerWrite { get; init; } = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PurgeAsync(stoppingToken);
                await Task.Delay(Interval, clock, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.Failed(logger, ex);
                await Task.Delay(TimeSpan.FromMinutes(1), clock, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    public async Task<(int Callbacks, int OutboxEntries, int TypingLeases)> PurgeAsync(CancellationToken cancellationToken)
    {
        var cutoff = (clock.GetUtcNow() - options.CurrentValue.Storage.Retention).ToUnixTimeMilliseconds();
        var callbacks = await PurgeCallbacksAsync(cutoff, cancellationToken);
        var outbox = await PurgeOutboxAsync(cutoff, cancellationToken);
        var leases = await PurgeTypingLeasesAsync(cutoff, cancellationToken);
        if (callbacks + outbox + leases > 0)
        {
            Log.Purged(logger, callbacks, outbox, leases);
        }

        if (await PurgeDoneEffectsAsync(cutoff, cancellationToken) is > 0 and var effects)
        {
            Log.EffectsPurged(logger, effects);
        }

        return (callbacks, outbox, leases);
    }

    /// <summary>Oldest first along <c>callbacks_by_age</c>, until a part finds fewer rows than it may delete.</summary>
    private Task<int> PurgeCallbacksAsync(long cutoff, CancellationToken cancellationToken) => DeleteInPartsAsync(
        "DELETE FROM callbacks WHERE callback_id IN (SELECT callback_id FROM callbacks WHERE received_at < @cutoff ORDER BY received_at LIMIT @rows)",
        cutoff,
        cancellationToken);

    /// <summary>
    /// Walks the outbox by id (the order entries were created in) a part at a time and deletes the sent ones, and the dead
    /// letters resolved or dismissed (each past the cutoff since then), among entries older than the cutoff, stopping at the first newer entry: no index on when an entry was sent is kept up
    /// on every vote for an hourly purge, and no part scans more than <see cref="RowsPerWrite"/> rows.
    /// </summary>
    private async Task<int> PurgeOutboxAsync(long cutoff, CancellationToken cancellationToken)
    {
        var purged = 0;
        var after = 0L;
        while (true)
        {
            var part = await batcher.QueryBesideAsync<(long Id, long CreatedAt)>(
                "SELECT id, created_at FROM outbox WHERE id > @after ORDER BY id LIMIT @rows", new { after, rows = RowsPerWrite }, cancellationToken);

            var old = part.TakeWhile(entry => entry.CreatedAt < cutoff).Count();
            if (old == 0)
            {
                return purged;
            }

            purged += await WriteAsync(
                """
                DELETE FROM outbox WHERE id > @after AND id <= @through
                AND ((status = 'Sent' AND sent_at < @cutoff) OR (status IN ('Resolved', 'Dismissed') AND resolved_at < @cutoff))
                """,
                new { after, through = part[old - 1].Id, cutoff },
                cancellationToken);
            if (old < part.Count || part.Count < RowsPerWrite)
            {
                return purged;
            }

            after = part[old - 1].Id;
        }
    }

    /// <summary>
    /// Leases neither held nor keeping a pace any more (free or expired, the last frame long gone). A replica taking one
    /// meanwhile renews <c>until_at</c> first: the row no longer matches, and is left.
    /// </summary>
    private Task<int> PurgeTypingLeasesAsync(long cutoff, CancellationToken cancellationToken) => DeleteInPartsAsync(
        """
        DELETE FROM typing_leases WHERE card_id IN (
            SELECT card_id FROM typing_leases WHERE until_at < @cutoff AND last_frame_at < @cutoff LIMIT @rows)
        AND until_at < @cutoff AND last_frame_at < @cutoff
        """,
        cutoff,
        cancellationToken);

    /// <summary>Effects done or dismissed before the cutoff (pending and dead ones stay, as dead letters do).</summary>
    private Task<int> PurgeDoneEffectsAsync(long cutoff, CancellationToken cancellationToken) => DeleteInPartsAsync(
        """
        DELETE FROM effects WHERE id IN (
            SELECT id FROM effects WHERE status IN ('Done', 'Dismissed') AND done_at < @cutoff LIMIT @rows)
        AND status IN ('Done', 'Dismissed') AND done_at < @cutoff
        """,
        cutoff,
        cancellationToken);

    /// <summary>
    /// Runs <paramref name="sql"/>, a DELETE of at most <c>@rows</c> rows older than <c>@cutoff</c>, a part at a time until
    /// a part deletes fewer rows than it may; the rows deleted.
    /// </summary>
    private async Task<int> DeleteInPartsAsync(string sql, long cutoff, CancellationToken cancellationToken)
    {
        var purged = 0;
        while (true)
        {
            var deleted = await WriteAsync(sql, new { cutoff, rows = RowsPerWrite }, cancellationToken);
            purged += deleted;
            if (deleted < RowsPerWrite)
            {
                return purged;
            }
        }
    }

    private Task<int> WriteAsync(string sql, object parameters, CancellationToken cancellationToken) =>
        StorageSession.ExecuteAsync(database, batcher, sql, parameters, cancellationToken);

    private static partial class Log
    {
        [LoggerMessage(4201, LogLevel.Information, "Retention purged {Callbacks} callbacks, {OutboxEntries} sent outbox entries and resolved or dismissed dead letters, and {TypingLeases} typing leases of idle cards")]
        public static partial void Purged(ILogger logger, int callbacks, int outboxEntries, int typingLeases);

        [LoggerMessage(8011, LogLevel.Information, "Retention purged {Effects} effects done or dismissed before Gateway:Storage:Retention")]
        public static partial void EffectsPurged(ILogger logger, int effects);

        [LoggerMessage(4202, LogLevel.Warning, "Retention purge failed; trying again in a minute")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
