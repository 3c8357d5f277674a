using System.Data.Common;
using Dapper;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The unit of work of one scope (one callback, one admin call): while a transaction is open every store in the
/// scope writes through it, so recording a callback, changing handler state and queueing the update for everyone
/// commit together or not at all. Without one, each write is its own transaction. One operation at a time.
/// On PostgreSQL a session has its own connection and transaction; on SQLite it is a savepoint in the
/// <see cref="SqliteWriteBatcher"/>'s group commit, and its commit returns once that is durable.
/// </summary>
public sealed class StorageSession(GatewayDatabase database, SqliteWriteBatcher batcher) : IAsyncDisposable
{
    private DbConnection? _connection;
    private DbTransaction? _transaction;
    private SqliteWriteBatcher.Unit? _unit;

    public SqlDialect Dialect => database.Dialect;

    public bool InTransaction => _transaction is not null;

    /// <summary>
    /// On SQLite, inside a transaction: the writer's kept rows — cards and handler states, and for the batch only the
    /// callbacks' records and the cards' open outbox entries — which stores read before the database and change
    /// instead of writing at once (<see cref="SqliteRowCache"/>). Null on PostgreSQL and outside a transaction.
    /// </summary>
    public SqliteRowCache? Rows => _unit?.Batch.Rows;

    private bool Batched => database.Dialect is SqliteDialect;

    public async Task BeginAsync(CancellationToken cancellationToken)
    {
        if (_transaction is not null)
        {
            throw new InvalidOperationException("The storage session already has an open transaction.");
        }

        if (Batched)
        {
            _unit = await batcher.EnterAsync(cancellationToken);
            _transaction = _unit.Transaction;
            return;
        }

        _connection ??= await database.OpenAsync(cancellationToken);
        _transaction = await database.Dialect.BeginWriteAsync(_connection, cancellationToken);
    }

    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        var transaction = _transaction ?? throw new InvalidOperationException("No transaction is open.");
        _transaction = null;
        if (_unit is { } unit)
        {
            _unit = null;
            await unit.CommitAsync();
            return;
        }

        await transaction.CommitAsync(cancellationToken);
        await transaction.DisposeAsync();
    }

    public async Task RollbackAsync()
    {
        var transaction = _transaction;
        _transaction = null;
        if (_unit is { } unit)
        {
            _unit = null;
            await unit.RollbackAsync();
            return;
        }

        if (transaction is not null)
        {
            try
            {
                await transaction.RollbackAsync(CancellationToken.None);
            }
            finally
            {
                await transaction.DisposeAsync();
            }
        }
    }

    /// <summary>Marks a point the open transaction can return to, keeping what came before it.</summary>
    public Task SavepointAsync(string name, CancellationToken cancellationToken)
    {
        var transaction = OpenTransaction;
        return _unit is { } unit ? unit.Batch.SavepointAsync(unit.Connection, name) : Connection.RunAsync(transaction, $"SAVEPOINT {name}", cancellationToken);
    }

    /// <summary>Undoes what the open transaction did since <see cref="SavepointAsync"/>.</summary>
    public Task RollbackToAsync(string name, CancellationToken cancellationToken)
    {
        var transaction = OpenTransaction;
        return _unit is { } unit ? unit.RollbackToAsync(name) : Connection.RunAsync(transaction, $"ROLLBACK TO SAVEPOINT {name}", cancellationToken);
    }

    /// <summary>Runs <paramref name="work"/> in the open transaction, or in a transaction of its own.</summary>
    /// <remarks>In the open transaction (every statement of a callback) the work's own task is returned, without a state machine around it.</remarks>
    public Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken) =>
        _transaction is not null ? work(Connection, _transaction) : WriteAloneAsync(work, cancellationToken);

    /// <summary>
    /// One statement in a transaction of its own, for work outside a callback (the outbox dispatcher, retention): on
    /// SQLite a turn in the callbacks' group commit rather than a second writer fighting them for the lock (whose
    /// busy-wait sleeps stalled both sides for milliseconds).
    /// </summary>
    /// <returns>Rows affected.</returns>
    public static async Task<int> ExecuteAsync(GatewayDatabase database, SqliteWriteBatcher batcher, string sql, object parameters, CancellationToken cancellationToken)
    {
        await using var session = new StorageSession(database, batcher);
        return await session.WriteAsync(
            (connection, transaction) => connection.ExecuteAsync(new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken)),
            cancellationToken);
    }

    /// <summary>
    /// Reads through the open transaction (seeing its own writes), or on a connection of its own — then returns only
    /// once what it may have seen is durable (<see cref="DurableAsync"/>).
    /// </summary>
    public Task<T> ReadAsync<T>(Func<DbConnection, DbTransaction?, Task<T>> work, CancellationToken cancellationToken) =>
        _transaction is not null ? work(Connection, _transaction) : ReadCommittedAsync(work, cancellationToken);

    /// <summary>
    /// Completes once every commit made so far is on disk. On SQLite a read on a connection of its own may see a
    /// group commit whose fsync is still under way (<see cref="SqliteWalSync"/>); a read whose result leaves the
    /// process — an answer, a send to DingTalk — awaits this first. At once on PostgreSQL, and whenever SQLite is idle.
    /// </summary>
    public Task DurableAsync() => batcher.DurableAsync();

    private async Task<T> WriteAloneAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        await BeginAsync(cancellationToken);
        try
        {
            var result = await work(Connection, _transaction!);
            await CommitAsync(cancellationToken);
            return result;
        }
        catch
        {
            await RollbackAsync();
            throw;
        }
    }

    /// <summary>
    /// Reads committed state on a connection of its own, whatever this session has open (another scope or replica may
    /// have written it), and returns once what it may have seen is durable (<see cref="DurableAsync"/>). Beside the
    /// writer (<see cref="SqliteWriteBatcher.ReadBesideAsync{T}"/>) unless this session holds it.
    /// </summary>
    public async Task<T> ReadCommittedAsync<T>(Func<DbConnection, DbTransaction?, Task<T>> work, CancellationToken cancellationToken)
    {
        T result;
        if (_unit is null)
        {
            result = await batcher.ReadBesideAsync(connection => work(connection, null), cancellationToken);
        }
        else
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            result = await work(connection, null);
        }

        await batcher.DurableAsync();
        return result;
    }

    /// <summary>Rolls back what is uncommitted and gives the connection back; the session opens a new one if used again.</summary>
    public async ValueTask DisposeAsync()
    {
        await RollbackAsync();
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }
    }

    private DbConnection Connection => _unit?.Connection ?? _connection!;

    private DbTransaction OpenTransaction => _transaction ?? throw new InvalidOperationException("No transaction is open.");
}
