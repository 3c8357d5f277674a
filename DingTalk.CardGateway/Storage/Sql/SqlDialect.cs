using System.Data.Common;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The few places where SQLite and PostgreSQL differ. Everything else — every query the stores run — is one SQL
/// text for both (<c>INSERT … ON CONFLICT</c>, <c>RETURNING</c> and integer epoch times work alike in both).
/// </summary>
public abstract class SqlDialect
{
    public abstract string Name { get; }

    /// <summary>The column type of an auto-numbered primary key.</summary>
    public abstract string IdentityPrimaryKey { get; }

    /// <summary>
    /// <c>SELECT columns FROM table WHERE where</c> for a read-modify-write. Where the database locks rows (PostgreSQL)
    /// the row stays locked until the transaction ends, and the lock is taken in turn: the statement first waits for the
    /// transaction lock on the key in <paramref name="keyParameter"/> (<see cref="LockKeyAsync"/>'s), which the database
    /// grants in the order it was asked. A hot row — a poll's tally, its card — is wanted by every click on the card at
    /// once; waiting on the row lock alone, every waiter wakes when the holder commits and they race for it, the newest
    /// often winning, so some clicks waited past their budget while others went straight through. On SQLite the plain
    /// read: one writer at a time already.
    /// </summary>
    public abstract string LockingInTurn(string columns, string table, string where, string keyParameter);

    /// <summary>
    /// <see cref="LockingInTurn"/>, without waiting: where another transaction holds the key's lock or the row's, no row
    /// (and no row lock). On SQLite the plain read.
    /// </summary>
    public virtual string LockingIfFree(string columns, string table, string where, string keyParameter) => LockingInTurn(columns, table, where, keyParameter);

    /// <summary>
    /// Appended to a <c>SELECT</c> of rows a replica is about to claim: where several replicas share the database
    /// (PostgreSQL) it locks them and skips those another claim holds, so two replicas never claim one row. Empty on
    /// SQLite, whose one writer claims one statement at a time anyway.
    /// </summary>
    public virtual string SkipLockedRows => "";

    public abstract DbConnection CreateConnection(string connectionString);

    /// <summary>Per-connection settings, run on every open.</summary>
    public virtual Task PrepareAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A transaction that may write; SQLite takes the write lock at once so two writers never deadlock on upgrade.</summary>
    public abstract ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>
    /// Until <paramref name="transaction"/> ends, excludes every other transaction that asks for the same
    /// <paramref name="key"/>: the row lock for something with no row (a card the gateway did not create).
    /// </summary>
    public abstract Task LockKeyAsync(DbConnection connection, DbTransaction transaction, string key, CancellationToken cancellationToken);

    /// <summary>
    /// A condition that takes <see cref="LockKeyAsync"/>'s lock on the key in <paramref name="keyParameter"/> without
    /// waiting: false at once while another transaction holds it.
    /// </summary>
    public abstract string TryLockKey(string keyParameter);

    /// <summary>Serialises schema migration between replicas starting together.</summary>
    public abstract Task LockForMigrationAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken);

    public abstract bool IsUniqueViolation(Exception exception);
}
