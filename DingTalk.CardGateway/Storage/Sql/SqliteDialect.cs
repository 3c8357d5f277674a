using System.Data.Common;
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The embedded default: one file, WAL journal, <c>synchronous=FULL</c> so a commit survives a power cut too (the
/// group-commit writer alone commits with NORMAL and has <see cref="SqliteWalSync"/> fsync for it, to the same effect).
/// </summary>
public sealed class SqliteDialect(bool inMemory = false) : SqlDialect
{
    /// <summary>How long a write waits for a lock another connection holds before it fails with <c>SQLITE_BUSY</c>.</summary>
    internal static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan LongestLockPoll = TimeSpan.FromMilliseconds(50);

    public override string Name => "Sqlite";

    public override string IdentityPrimaryKey => "INTEGER PRIMARY KEY AUTOINCREMENT";

    public override string LockingInTurn(string columns, string table, string where, string keyParameter) =>
        $"SELECT {columns} FROM {table} WHERE {where} AND {keyParameter} IS NOT NULL"; // one writer at a time already: nothing to lock

    public override DbConnection CreateConnection(string connectionString) => new SqliteConnection(connectionString);

    public override async Task PrepareAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = inMemory
            ? $"PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF; PRAGMA busy_timeout={BusyTimeout.TotalMilliseconds}; PRAGMA temp_store=MEMORY;"
            : $"PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout={BusyTimeout.TotalMilliseconds}; PRAGMA temp_store=MEMORY;";
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// <c>BEGIN IMMEDIATE</c>: the database's write lock. Another process may hold it for a while (an operator's
    /// <c>sqlite3</c> left in a transaction, a backup or replication tool taking its turn): the wait for it sleeps no
    /// thread. SQLite's busy handler and Microsoft.Data.Sqlite's retries would both sleep the caller's, and a click's
    /// caller is its own request, whose answer at its budget (<c>CallbackPipeline</c>) could only start once the lock was
    /// let go — 18 s after the click, for a lock held 20 s. So a lock found held is tried again after an asynchronous
    /// delay, for up to <see cref="BusyTimeout"/> as before, then <c>SQLITE_BUSY</c> is thrown. A free lock costs nothing
    /// more: the first try takes it.
    /// </summary>
    public override async ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        (await BeginWriteWaitingAsync(connection, cancellationToken)).Transaction;

    /// <summary>As <see cref="BeginWriteAsync"/>, and how long another connection held the lock first (zero when it was free).</summary>
    internal async ValueTask<(DbTransaction Transaction, TimeSpan LockedElsewhere)> BeginWriteWaitingAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var sqlite = (SqliteConnection)connection;
        if (inMemory)
        {
            return (sqlite.BeginTransaction(deferred: false), TimeSpan.Zero); // no other process can hold its lock
        }

        var defaultTimeout = sqlite.DefaultTimeout;
        raw.sqlite3_busy_timeout(sqlite.Handle, 0);
        sqlite.DefaultTimeout = -1; // Microsoft.Data.Sqlite sleeps and retries while under its timeout, 0 meaning forever: below 0, never
        try
        {
            long? lockedSince = null;
            var poll = TimeSpan.FromMilliseconds(1);
            while (true)
            {
                try
                {
                    var transaction = sqlite.BeginTransaction(deferred: false);
                    return (transaction, lockedSince is { } since ? Stopwatch.GetElapsedTime(since) : TimeSpan.Zero);
                }
                catch (SqliteException ex) when (ex.SqliteErrorCode == raw.SQLITE_BUSY)
                {
                    lockedSince ??= Stopwatch.GetTimestamp();
                    if (Stopwatch.GetElapsedTime(lockedSince.Value) >= BusyTimeout)
                    {
                        throw;
                    }

                    await Task.Delay(poll, cancellationToken);
                    poll = TimeSpan.FromTicks(Math.Min(poll.Ticks * 2, LongestLockPoll.Ticks));
                }
            }
        }
        finally
        {
            sqlite.DefaultTimeout = defaultTimeout;
            raw.sqlite3_busy_timeout(sqlite.Handle, (int)BusyTimeout.TotalMilliseconds);
        }
    }

    public override Task LockKeyAsync(DbConnection connection, DbTransaction transaction, string key, CancellationToken cancellationToken) =>
        Task.CompletedTask; // one writer at a time already

    public override string TryLockKey(string keyParameter) =>
        $"{keyParameter} IS NOT NULL"; // one writer at a time already: nothing to lock, true for every key

    public override Task LockForMigrationAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        Task.CompletedTask; // BEGIN IMMEDIATE already excludes every other writer

    public override bool IsUniqueViolation(Exception exception) =>
        exception is SqliteException { SqliteErrorCode: 19 }; // SQLITE_CONSTRAINT
}
