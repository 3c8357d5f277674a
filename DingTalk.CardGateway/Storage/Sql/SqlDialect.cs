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

    /// <summary>Row lock for read-modify-write; SQLite needs none (a write transaction holds the database).</summary>
    public abstract string ForUpdate { get; }

    /// <summary>Whether a write transaction excludes every other writer, so whatever it reads stays current until it commits.</summary>
    public bool SingleWriter => ForUpdate.Length == 0;

    /// <summary>
    /// <paramref name="select"/> taking a row lock where the database needs one. On SQLite that is the text itself, so a
    /// constant stays the same object and the writer finds its kept statement by reference.
    /// </summary>
    public string Locking(string select) => SingleWriter ? select : select + ForUpdate;

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
