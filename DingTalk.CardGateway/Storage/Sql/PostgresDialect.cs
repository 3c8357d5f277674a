using System.Data.Common;
using Dapper;
using Npgsql;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>The scale-out store: any number of gateway replicas share one PostgreSQL database.</summary>
public sealed class PostgresDialect : SqlDialect
{
    /// <summary>Any fixed number: the advisory lock replicas take while migrating the schema.</summary>
    private const long MigrationLockKey = 0x43_61_72_64_47_57; // "CardGW"

    /// <summary>
    /// The database's clock now, in epoch milliseconds: for times every replica must read alike (a shared pace, a kept
    /// click's age), whatever their own clocks say. <c>clock_timestamp()</c>, not <c>now()</c>, which stands still in a transaction.
    /// </summary>
    public const string NowMilliseconds = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

    public override string Name => "Postgres";

    public override string IdentityPrimaryKey => "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY";

    /// <remarks>
    /// The key's lock is taken by a subquery joined to the table: the row lock (<c>FOR UPDATE OF</c>, on the join's
    /// result) can only come after it, and the statement is still one round trip.
    /// </remarks>
    public override string LockingInTurn(string columns, string table, string where, string keyParameter) =>
        $"SELECT {columns} FROM (SELECT {LockKey(keyParameter)}) AS turn, {table} WHERE {where} FOR UPDATE OF {table}";

    public override string LockingIfFree(string columns, string table, string where, string keyParameter) =>
        $"SELECT {columns} FROM {table} WHERE {where} AND {TryLockKey(keyParameter)} FOR UPDATE OF {table} SKIP LOCKED";

    public override string SkipLockedRows => " FOR UPDATE SKIP LOCKED";

    public override DbConnection CreateConnection(string connectionString) => new NpgsqlConnection(connectionString);

    public override async ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await connection.BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted, cancellationToken);

    public override Task LockKeyAsync(DbConnection connection, DbTransaction transaction, string key, CancellationToken cancellationToken) =>
        connection.RunAsync(transaction, $"SELECT {LockKey("@key")}", cancellationToken, ("key", key));

    private static string LockKey(string keyParameter) => $"pg_advisory_xact_lock(hashtextextended({keyParameter}, 0))";

    public override string TryLockKey(string keyParameter) => $"pg_try_advisory_xact_lock(hashtextextended({keyParameter}, 0))";

    public override Task LockForMigrationAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(@key)", new { key = MigrationLockKey }, transaction, cancellationToken: cancellationToken));

    public override bool IsUniqueViolation(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };
}
