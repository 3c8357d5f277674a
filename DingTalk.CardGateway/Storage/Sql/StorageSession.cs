using System.Data.Common;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The unit of work of one scope (one callback, one admin call): while a transaction is open every store in the
/// scope writes through it, so recording a callback, changing handler state and queueing the update for everyone
/// commit together or not at all. Without one, each write is its own transaction. One operation at a time.
/// </summary>
public sealed class StorageSession(GatewayDatabase database) : IAsyncDisposable
{
    private DbConnection? _connection;
    private DbTransaction? _transaction;

    public SqlDialect Dialect => database.Dialect;

    public bool InTransaction => _transaction is not null;

    public async Task BeginAsync(CancellationToken cancellationToken)
    {
        if (_transaction is not null)
        {
            throw new InvalidOperationException("The storage session already has an open transaction.");
        }

        _connection ??= await database.OpenAsync(cancellationToken);
        _transaction = await database.Dialect.BeginWriteAsync(_connection, cancellationToken);
    }

    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        var transaction = _transaction ?? throw new InvalidOperationException("No transaction is open.");
        await transaction.CommitAsync(cancellationToken);
        await transaction.DisposeAsync();
        _transaction = null;
    }

    public async Task RollbackAsync()
    {
        if (_transaction is { } transaction)
        {
            _transaction = null;
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
    public Task SavepointAsync(string name, CancellationToken cancellationToken) =>
        (_transaction ?? throw new InvalidOperationException("No transaction is open.")).SaveAsync(name, cancellationToken);

    /// <summary>Undoes what the open transaction did since <see cref="SavepointAsync"/>.</summary>
    public Task RollbackToAsync(string name, CancellationToken cancellationToken) =>
        (_transaction ?? throw new InvalidOperationException("No transaction is open.")).RollbackAsync(name, cancellationToken);

    /// <summary>Runs <paramref name="work"/> in the open transaction, or in a transaction of its own.</summary>
    public async Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        if (_transaction is not null)
        {
            return await work(_connection!, _transaction);
        }

        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.Dialect.BeginWriteAsync(connection, cancellationToken);
        var result = await work(connection, transaction);
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    /// <summary>Reads through the open transaction (seeing its own writes), or on a connection of its own.</summary>
    public async Task<T> ReadAsync<T>(Func<DbConnection, DbTransaction?, Task<T>> work, CancellationToken cancellationToken)
    {
        if (_transaction is not null)
        {
            return await work(_connection!, _transaction);
        }

        await using var connection = await database.OpenAsync(cancellationToken);
        return await work(connection, null);
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
}
