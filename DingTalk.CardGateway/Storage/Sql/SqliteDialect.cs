using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The embedded default: one file, WAL journal, <c>synchronous=FULL</c> so a commit survives a power cut too (the
/// group-commit writer alone commits with NORMAL and has <see cref="SqliteWalSync"/> fsync for it, to the same effect).
/// </summary>
public sealed class SqliteDialect(bool inMemory = false) : SqlDialect
{
    public override string Name => "Sqlite";

    public override string IdentityPrimaryKey => "INTEGER PRIMARY KEY AUTOINCREMENT";

    public override string LockingInTurn(string columns, string table, string where, string keyParameter) =>
        $"SELECT {columns} FROM {table} WHERE {where} AND {keyParameter} IS NOT NULL"; // one writer at a time already: nothing to lock

    public override DbConnection CreateConnection(string connectionString) => new SqliteConnection(connectionString);

    public override async Task PrepareAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = inMemory
            ? "PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF; PRAGMA busy_timeout=30000; PRAGMA temp_store=MEMORY;"
            : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000; PRAGMA temp_store=MEMORY;";
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public override ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        ValueTask.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false)); // BEGIN IMMEDIATE

    public override Task LockKeyAsync(DbConnection connection, DbTransaction transaction, string key, CancellationToken cancellationToken) =>
        Task.CompletedTask; // one writer at a time already

    public override string TryLockKey(string keyParameter) =>
        $"{keyParameter} IS NOT NULL"; // one writer at a time already: nothing to lock, true for every key

    public override Task LockForMigrationAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        Task.CompletedTask; // BEGIN IMMEDIATE already excludes every other writer

    public override bool IsUniqueViolation(Exception exception) =>
        exception is SqliteException { SqliteErrorCode: 19 }; // SQLITE_CONSTRAINT
}
