using System.Data.Common;
using Dapper;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Brings the schema up to date before the gateway serves: each numbered migration runs once, in its own
/// transaction, with replicas that start together serialised on a lock. A database that is not reachable yet (a
/// PostgreSQL still starting beside the gateway) is tried again with backoff for <see cref="StorageOptions.StartupWait"/>;
/// one that refuses for good (a wrong password, an unwritable path) fails at once.
/// </summary>
/// <remarks>
/// A database a newer build migrated further (a rolling deployment, a rollback) is used as it is when that build wrote
/// into it that builds of this one's schema version may (<c>schema_floor</c>, <see cref="Migration.OlderBuildsMayRun"/>),
/// with a warning; otherwise this build stops with <see cref="SchemaTooNewException"/> before it touches anything.
/// </remarks>
public sealed partial class SchemaMigrator(GatewayDatabase database, IOptions<GatewayOptions> options, TimeProvider clock, ILogger<SchemaMigrator> logger)
    : IHostedService
{
    private bool _migrated;

    /// <summary>The migrations this build knows; a test gives a newer build's, longer list.</summary>
    internal Func<SqlDialect, IReadOnlyList<Migration>> Migrations { get; init; } = Schema.Migrations;

    /// <remarks>Run once per process: the host's start finds it done when <c>RunGatewayAsync</c> migrated first.</remarks>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_migrated)
        {
            return;
        }

        var wait = options.Value.Storage.StartupWait;
        var started = clock.GetTimestamp();
        var retry = new ResiliencePipelineBuilder { TimeProvider = clock }
            .AddRetry(new RetryStrategyOptions
            {
                // Past the wait, the database's own error goes up as it is: it says what is wrong.
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is DbException { IsTransient: true } && clock.GetElapsedTime(started) < wait),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(500),
                MaxDelay = TimeSpan.FromSeconds(5),
                OnRetry = args =>
                {
                    Log.NotReachable(logger, database.Dialect.Name, Describe(args.Outcome.Exception!), (long)args.RetryDelay.TotalMilliseconds, (long)wait.TotalSeconds);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
        await retry.ExecuteAsync(MigrateAsync, cancellationToken);
        _migrated = true;
    }

    /// <summary>An exception's messages, outermost first, without repeats: what to tell an operator, no stack trace.</summary>
    public static string Describe(Exception exception)
    {
        var messages = new List<string>();
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (!messages.Contains(e.Message))
            {
                messages.Add(e.Message);
            }
        }

        // A message that ends its sentence is followed by the next one, not by ": " (".: " reads as a typo).
        return messages.Aggregate((text, next) => text + (text.EndsWith('.') ? " " : ": ") + next);
    }

    private async ValueTask MigrateAsync(CancellationToken cancellationToken)
    {
        var migrations = Migrations(database.Dialect);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.Dialect.BeginWriteAsync(connection, cancellationToken);
        await database.Dialect.LockForMigrationAsync(connection, transaction, cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
            transaction: transaction,
            cancellationToken: cancellationToken));
        var applied = (int)(await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT MAX(version) FROM schema_migrations", transaction: transaction, cancellationToken: cancellationToken)) ?? 0);
        if (applied > migrations.Count)
        {
            // A newer build's database (its schema_floor came with a migration this build knows, since it is older).
            var needed = (int)(await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT min_build_version FROM schema_floor WHERE id = 1", transaction: transaction, cancellationToken: cancellationToken)) ?? 1);
            if (needed > migrations.Count)
            {
                throw new SchemaTooNewException(applied, needed, migrations.Count);
            }

            Log.NewerSchema(logger, database.Dialect.Name, applied, migrations.Count, migrations.Count + 1, applied, needed);
        }

        for (var version = applied + 1; version <= migrations.Count; version++)
        {
            await connection.ExecuteAsync(new CommandDefinition(migrations[version - 1].Sql, transaction: transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (@version, @now)",
                new { version, now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() },
                transaction,
                cancellationToken: cancellationToken));
            Log.Migrated(logger, database.Dialect.Name, version);
        }

        if (applied < migrations.Count)
        {
            // What this build's migrations leave for older builds to know: read by the next one that starts on it.
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO schema_floor (id, min_build_version) VALUES (1, @needed)
                ON CONFLICT (id) DO UPDATE SET min_build_version = excluded.min_build_version
                """,
                new { needed = Schema.MinBuildVersion(migrations) },
                transaction,
                cancellationToken: cancellationToken));
        }

        var released = database.Exclusive ? await ReleaseEndedLeasesAsync(connection, transaction, cancellationToken) : 0;
        await transaction.CommitAsync(cancellationToken);
        if (released > 0)
        {
            Log.LeasesReleased(logger, released);
        }

        Log.Ready(logger, database.Dialect.Name, Math.Max(applied, migrations.Count));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// On a SQLite file only this process uses, a lease still running was taken by a process that ended without releasing
    /// it (a crash, a kill): it would hold the card's outbox, or its next typed text, until it ran out (15 s). Freed at
    /// once. On PostgreSQL a running lease may be another replica's, alive: it is left to run out.
    /// </summary>
    private async Task<int> ReleaseEndedLeasesAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var released = 0;
        foreach (var table in new[] { "outbox_leases", "typing_leases" })
        {
            released += await connection.ExecuteAsync(new CommandDefinition(
                $"UPDATE {table} SET until_at = 0 WHERE until_at >= @now", new { now }, transaction, cancellationToken: cancellationToken));
        }

        return released;
    }

    private static partial class Log
    {
        [LoggerMessage(4001, LogLevel.Information, "{Provider} schema migrated to version {Version}")]
        public static partial void Migrated(ILogger logger, string provider, int version);

        [LoggerMessage(4002, LogLevel.Information, "{Provider} storage ready at schema version {Version}")]
        public static partial void Ready(ILogger logger, string provider, int version);

        [LoggerMessage(4004, LogLevel.Information, "Released {Leases} card lease(s) a previous gateway process held on this SQLite file when it ended (a crash or a kill): their cards' updates and texts go on at once")]
        public static partial void LeasesReleased(ILogger logger, int leases);

        [LoggerMessage(4005, LogLevel.Warning, "{Provider} database is at schema version {DatabaseVersion}, newer than this build's {BuildVersion}: migrations {FirstNewer}..{LastNewer} were applied by a newer build, which left it usable by builds of schema version {NeededVersion} or later; running on it (a rolling deployment, or a rollback)")]
        public static partial void NewerSchema(ILogger logger, string provider, int databaseVersion, int buildVersion, int firstNewer, int lastNewer, int neededVersion);

        [LoggerMessage(4003, LogLevel.Warning, "{Provider} storage not reachable yet ({Error}); trying again in {DelayMs} ms, for up to {WaitSeconds} s from startup (Gateway:Storage:StartupWait)")]
        public static partial void NotReachable(ILogger logger, string provider, string error, long delayMs, long waitSeconds);
    }
}
