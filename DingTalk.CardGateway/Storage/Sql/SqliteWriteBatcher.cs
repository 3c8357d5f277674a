using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Win32.SafeHandles;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Group commit for SQLite. SQLite has one writer and one fsync per durable commit; so instead of each unit of work
/// taking the database lock and paying its own fsync, units take turns on one writer connection, each inside a
/// SAVEPOINT of a shared transaction, and the transaction commits when nobody is waiting (or the batch is full).
/// A unit's commit returns only once that COMMIT is on disk: <see cref="SqliteWalSync"/> flushes it while the writer
/// already runs the next batch. Durability is unchanged; one fsync serves every unit that queued up meanwhile.
/// A unit that rolls back undoes only its own savepoint.
/// </summary>
public sealed partial class SqliteWriteBatcher : IAsyncDisposable
{
    private const int MaxBatch = 128;
    private static readonly TimeSpan IdleFlush = TimeSpan.FromMilliseconds(2);

    /// <summary>How long another connection may hold the database's write lock before the writer says so (4304).</summary>
    internal static readonly TimeSpan LockedElsewhereWarning = TimeSpan.FromMilliseconds(100);

    private readonly SemaphoreSlim _writer = new(1, 1);
    private readonly GatewayDatabase _database;
    private readonly SqliteWalSync _walSync;
    private readonly ILogger<SqliteWriteBatcher> _logger;
    private readonly SqliteRowCache _rows = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _heldClaims = new(StringComparer.Ordinal);
    private int _waiting;
    private long _commits;
    private DbConnection? _connection;
    private SafeFileHandle? _wal;
    private Batch? _batch;

    public SqliteWriteBatcher(GatewayDatabase database, SqliteWalSync walSync, ILogger<SqliteWriteBatcher> logger)
    {
        _database = database;
        _walSync = walSync;
        _logger = logger;
        walSync.Idle = () => _ = DiskIdleAsync();
    }

    /// <summary>Waits for the writer, then opens a savepoint for one unit of work in the current batch.</summary>
    public async Task<Unit> EnterAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _waiting);
        try
        {
            await _writer.WaitAsync(cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }

        try
        {
            _connection ??= await OpenAsync();
            return new Unit(this, _connection, await OpenUnitAsync());
        }
        catch (Exception ex)
        {
            await AbandonBatchAsync(ex);
            _writer.Release();
            throw;
        }
    }

    /// <summary>
    /// A unit that claimed <paramref name="callbackId"/> leaves the writer while its handler waits on something else,
    /// rolled back (<see cref="StorageSession.LeaveWriterWhileWaitingAsync"/>): the claim is held here meanwhile, so a
    /// redelivery is refused it as if the claim were in the writer's rows.
    /// </summary>
    public void HoldClaim(string callbackId) => _heldClaims[callbackId] = 0;

    public void ReleaseClaim(string callbackId) => _heldClaims.TryRemove(callbackId, out _);

    public bool IsClaimHeld(string callbackId) => !_heldClaims.IsEmpty && _heldClaims.ContainsKey(callbackId);

    /// <summary>Units waiting for the writer.</summary>
    internal int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Batches committed so far: how the checkpointer knows whether the WAL has grown.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>
    /// Completes once every batch committed so far is on disk. A read on a connection of its own may see a batch whose
    /// units are still waiting for the disk; one whose result leaves the process awaits this first.
    /// </summary>
    public Task DurableAsync() => _walSync.DurableAsync();

    /// <summary>
    /// Runs a read on a connection of its own, beside the writer's. In memory (SQLite's memdb VFS, a rollback journal)
    /// no connection may read while another has a write open, and the writer's batch is open almost all the time under
    /// load: a reader would wait in SQLite's busy handler, which sleeps the pool thread (with the shared-cache database
    /// of before, Microsoft.Data.Sqlite slept it on <c>SQLITE_LOCKED</c>: everyone's clicks stalled ~150 ms at a time).
    /// So in memory the read takes a turn of the writer, between batches (<see cref="ExclusiveAsync{T}"/>); on a file
    /// (WAL) readers never wait for the writer, and it runs at once.
    /// </summary>
    public Task<T> ReadBesideAsync<T>(Func<DbConnection, Task<T>> read, CancellationToken cancellationToken)
    {
        return _database.CheckpointsInBackground || _database.Dialect is not SqliteDialect ? ReadAsync() : ExclusiveAsync(ReadAsync, cancellationToken);

        async Task<T> ReadAsync()
        {
            await using var connection = await _database.OpenAsync(cancellationToken);
            return await read(connection);
        }
    }

    /// <summary>One query beside the writer (<see cref="ReadBesideAsync{T}"/>), its rows as a list.</summary>
    public Task<List<T>> QueryBesideAsync<T>(string sql, object parameters, CancellationToken cancellationToken) =>
        ReadBesideAsync(
            async connection => (await connection.QueryAsync<T>(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken))).AsList(),
            cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> while no unit writes: the open batch (if any) is committed first, and units wait
    /// until <paramref name="work"/> is done. For maintenance that must see the writer idle, such as finishing a checkpoint.
    /// </summary>
    public async Task<T> ExclusiveAsync<T>(Func<Task<T>> work, CancellationToken cancellationToken)
    {
        await _writer.WaitAsync(cancellationToken);
        try
        {
            if (_batch is { } batch)
            {
                try
                {
                    await CommitAsync(batch);
                }
                catch (Exception ex)
                {
                    await AbandonBatchAsync(ex);
                    throw;
                }
            }

            return await work();
        }
        finally
        {
            _writer.Release();
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the writer's own connection during a turn of the writer, after committing the open
    /// batch: for a setting of that connection, such as tests making it refuse to grow the file (<c>max_page_count</c>),
    /// as a full disk does.
    /// </summary>
    internal Task<T> OnWriterConnectionAsync<T>(Func<DbConnection, Task<T>> work, CancellationToken cancellationToken) =>
        ExclusiveAsync(async () => await work(_connection ??= await OpenAsync()), cancellationToken);

    public async ValueTask DisposeAsync()
    {
        _walSync.Idle = null;
        await CloseConnectionAsync();
        _writer.Dispose();
    }

    /// <summary>Ends a unit: keeps (or undoes) its savepoint, lets the next unit in, and — when it kept its work — returns once the batch is committed.</summary>
    private async Task LeaveAsync(Unit unit, bool keep)
    {
        var batch = unit.Batch;
        try
        {
            await EndUnitAsync(unit, keep);
            // While the disk is busy with the batch before, committing this one would not make it durable any sooner
            // (its fsync could only start after that one): it stays open for more units, and is committed as soon
            // as the disk is free (DiskIdleAsync).
            if ((Volatile.Read(ref _waiting) == 0 && !_walSync.Busy) || batch.Units >= MaxBatch)
            {
                await CommitAsync(batch);
            }
            else if (!batch.FlushScheduled)
            {
                // Whoever is waiting, or the disk becoming free, will commit; should neither come, this ends the batch.
                batch.FlushScheduled = true;
                _ = FlushLaterAsync(batch);
            }
        }
        catch (Exception ex)
        {
            await AbandonBatchAsync(ex);
        }
        finally
        {
            _writer.Release();
        }

        if (keep)
        {
            await batch.Committed.Task;
        }
    }

    /// <summary>
    /// Undoes <paramref name="unit"/>, commits its batch — what the units before it kept — and opens a new batch with a
    /// savepoint for the unit again, without letting go of the writer. Should it fail, the unit still holds the writer:
    /// rolling it back lets go.
    /// </summary>
    private async Task<Unit> RestartAloneAsync(Unit unit)
    {
        Batch batch;
        try
        {
            await EndUnitAsync(unit, keep: false);
            await CommitAsync(unit.Batch);
            batch = await OpenUnitAsync();
        }
        catch (Exception ex)
        {
            await AbandonBatchAsync(ex);
            throw;
        }

        return unit.MovedTo(batch);
    }

    /// <summary>On the writer: a savepoint for a unit in the open batch, or in a new one.</summary>
    private async Task<Batch> OpenUnitAsync()
    {
        if (_batch is null)
        {
            var (transaction, lockedElsewhere) = await ((SqliteDialect)_database.Dialect).BeginWriteWaitingAsync(_connection!, CancellationToken.None);
            if (lockedElsewhere >= LockedElsewhereWarning)
            {
                Log.LockedElsewhere(_logger, (long)lockedElsewhere.TotalMilliseconds);
            }

            _batch = new Batch(transaction, _rows);
        }

        await _batch.SavepointAsync(_connection!, "unit");
        return _batch;
    }

    /// <summary>On the writer: the unit's savepoint released into its batch — what it wrote kept, or undone first.</summary>
    private async Task EndUnitAsync(Unit unit, bool keep)
    {
        if (!keep)
        {
            await unit.Batch.RollbackToAsync(unit.Connection, "unit");
        }

        await unit.Connection.RunAsync(unit.Batch.Transaction, "RELEASE unit", CancellationToken.None);
        _rows.Release();
        unit.Batch.Units++;
    }

    /// <summary>The disk has made every commit durable: the batch that waited for it is committed now, so its fsync starts.</summary>
    private async Task DiskIdleAsync()
    {
        if (Volatile.Read(ref _batch) is null)
        {
            return;
        }

        await _writer.WaitAsync();
        try
        {
            await CommitOpenAsync();
        }
        finally
        {
            _writer.Release();
        }
    }

    private async Task FlushLaterAsync(Batch batch)
    {
        await Task.Delay(IdleFlush);
        while (!batch.Ended) // ended, not durable: the fsync beside the writer is not this loop's to wait for
        {
            if (_walSync.Busy)
            {
                await Task.Delay(IdleFlush); // the disk becoming free commits it (DiskIdleAsync)
            }
            else if (await _writer.WaitAsync(IdleFlush))
            {
                try
                {
                    await CommitOpenAsync(only: batch);
                }
                finally
                {
                    _writer.Release();
                }
            }
        }
    }

    /// <summary>
    /// Called holding the writer: commits the open batch, if any (and if it is <paramref name="only"/>, when given). A
    /// batch whose COMMIT fails is abandoned; its units learn why from their commit.
    /// </summary>
    private async Task CommitOpenAsync(Batch? only = null)
    {
        if (_batch is not { } batch || (only is not null && !ReferenceEquals(batch, only)))
        {
            return;
        }

        try
        {
            await CommitAsync(batch);
        }
        catch (Exception ex)
        {
            await AbandonBatchAsync(ex);
        }
    }

    /// <summary>
    /// The writer connection: long-lived and used by one unit at a time, so it keeps its statements prepared. It does
    /// not checkpoint the WAL after its commits (<see cref="SqliteCheckpointer"/> does, beside it), nor wait for the
    /// disk in them (<see cref="SqliteWalSync"/> does, beside it).
    /// </summary>
    private async Task<DbConnection> OpenAsync()
    {
        var connection = await _database.OpenAsync(CancellationToken.None);
        try
        {
            // Only a WAL can be synced beside the writer: should SQLite have kept a rollback journal (a file system
            // without shared memory), NORMAL would weaken it, so the writer keeps FULL and waits for the disk itself.
            if (_database.CheckpointsInBackground
                && string.Equals(await connection.ScalarAsync<string>(null, "PRAGMA journal_mode", CancellationToken.None), "wal", StringComparison.OrdinalIgnoreCase))
            {
                await connection.RunAsync(null, "PRAGMA wal_autocheckpoint=0; PRAGMA synchronous=NORMAL", CancellationToken.None);
                _wal = SqliteWalSync.OpenWal((SqliteConnection)connection); // the connection in WAL mode has created it
            }

            ((SqliteConnection)connection).KeepPrepared();
            return connection;
        }
        catch
        {
            _wal?.Dispose();
            _wal = null;
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Called holding the writer: COMMIT, then the batch's units are told once it is on disk.</summary>
    private async Task CommitAsync(Batch batch)
    {
        _batch = null;
        batch.Ended = true;
        var number = _walSync.Begin();
        try
        {
            await _rows.FlushAsync(_connection!, batch.Transaction);
            await batch.Transaction.CommitAsync();
        }
        catch
        {
            _walSync.Failed(number);
            _batch = batch; // still the writer's: the caller abandons it, which fails its units instead of leaving them waiting
            throw;
        }

        await batch.Transaction.DisposeAsync();
        Interlocked.Increment(ref _commits);
        _walSync.Committed(number, _wal, batch.Committed);
    }

    /// <summary>Called holding the writer: the batch cannot be trusted any more; its units fail and the connection is renewed.</summary>
    private async Task AbandonBatchAsync(Exception reason)
    {
        _database.Writes.Failed(reason); // a COMMIT that did not fit on the disk, a file that became read-only

        var batch = _batch;
        _batch = null;
        _rows.Clear();
        if (batch is not null)
        {
            batch.Ended = true;
            try
            {
                await batch.Transaction.RollbackAsync();
            }
            catch (DbException)
            {
                // the connection is going anyway
            }

            batch.Committed.TrySetException(reason);
        }

        await CloseConnectionAsync();
    }

    /// <summary>
    /// The writer connection's kept statements are finalized first: it goes back to the pool, not away. The WAL's
    /// handle goes with it, once every commit made on it is on disk (holding the writer, so none is being made).
    /// </summary>
    private async Task CloseConnectionAsync()
    {
        _rows.Clear();
        if (_wal is not null)
        {
            try
            {
                await _walSync.DurableAsync();
            }
            catch (SqliteException)
            {
                // an fsync failed: nothing more will become durable, and there is nothing left to wait for
            }

            _wal.Dispose();
            _wal = null;
        }

        if (_connection is not null)
        {
            _connection.ForgetPrepared();
            await _connection.DisposeAsync();
            _connection = null;
        }
    }

    /// <summary>One unit of work's place in the current batch.</summary>
    public sealed class Unit(SqliteWriteBatcher batcher, DbConnection connection, Batch batch)
    {
        private bool _left;

        public DbConnection Connection { get; } = connection;

        public Batch Batch { get; } = batch;

        public DbTransaction Transaction => Batch.Transaction;

        public Task CommitAsync() => LeaveOnceAsync(keep: true);

        public Task RollbackAsync() => LeaveOnceAsync(keep: false);

        /// <summary>Undoes what this unit wrote since <paramref name="savepoint"/>, keeping what came before it.</summary>
        public Task RollbackToAsync(string savepoint) => Batch.RollbackToAsync(Connection, savepoint);

        /// <summary>
        /// Holding on to the writer: undoes this unit and commits its batch, so the units that left the writer before it
        /// are done (their commits return once it is on disk), then starts this unit again, alone in a new batch. Its
        /// writes are gone: the caller writes them again. This unit is spent; the one returned takes its place.
        /// </summary>
        public Task<Unit> RestartAloneAsync() => batcher.RestartAloneAsync(this);

        internal Unit MovedTo(Batch batch)
        {
            _left = true; // the writer is the returned unit's to let go of
            return new Unit(batcher, Connection, batch);
        }

        private Task LeaveOnceAsync(bool keep)
        {
            if (_left)
            {
                return Task.CompletedTask;
            }

            _left = true;
            return batcher.LeaveAsync(this, keep);
        }
    }

    /// <summary>The shared transaction and the moment it is durable.</summary>
    public sealed class Batch(DbTransaction transaction, SqliteRowCache rows)
    {
        private bool _ended;

        public DbTransaction Transaction { get; } = transaction;

        public TaskCompletionSource Committed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Units { get; set; }

        public bool FlushScheduled { get; set; }

        /// <summary>Committed or abandoned: no unit joins it any more (its units may still be waiting for the disk).</summary>
        public bool Ended
        {
            get => Volatile.Read(ref _ended);
            set => Volatile.Write(ref _ended, value);
        }

        /// <summary>The writer's cards and handler states, kept between units; rows changed are written as the batch commits.</summary>
        public SqliteRowCache Rows { get; } = rows;

        /// <summary>A savepoint in the batch's transaction, mirrored in <see cref="Rows"/>.</summary>
        public async Task SavepointAsync(DbConnection connection, string savepoint)
        {
            await connection.RunAsync(Transaction, $"SAVEPOINT {savepoint}", CancellationToken.None);
            Rows.Savepoint(savepoint);
        }

        /// <summary>Every rollback inside the batch, a whole unit's or part of one: the rows changed since the savepoint go back to what they were.</summary>
        public async Task RollbackToAsync(DbConnection connection, string savepoint)
        {
            await connection.RunAsync(Transaction, $"ROLLBACK TO SAVEPOINT {savepoint}", CancellationToken.None);
            Rows.RollbackTo(savepoint);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(4304, LogLevel.Warning, "The SQLite database's write lock was held by another connection for {WaitedMs} ms before this gateway's writer got it: clicks waited meanwhile (those past their budget answered {{}}, and handled once it got it). Only this gateway may write the file — look for another process on it: sqlite3 left in a transaction, a backup or replication tool")]
        public static partial void LockedElsewhere(ILogger logger, long waitedMs);
    }
}
