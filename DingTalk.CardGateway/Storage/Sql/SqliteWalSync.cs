using Microsoft.Data.Sqlite;
using Microsoft.Win32.SafeHandles;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Makes the group-commit writer's transactions durable with one fsync of SQLite's write-ahead log per round, on a
/// thread of its own, while the writer already runs the next batch.
/// </summary>
/// <remarks>
/// With <c>synchronous=FULL</c> SQLite fsyncs the WAL inside COMMIT, holding the database's write lock: every
/// callback queued behind the batch waited for the disk too. The writer connection therefore commits with
/// <c>synchronous=NORMAL</c> — the frames reach the WAL file, not yet the disk — and a batch's units are told it
/// committed only after an fsync of the WAL that began after its COMMIT returned. A transaction in the WAL is durable
/// once its commit frame is on disk, and fsync flushes the whole file whoever wrote it, so what a unit is told is
/// exactly what FULL tells it. SQLite keeps NORMAL consistent by itself: a checkpoint syncs the WAL before copying
/// it and the database after.
/// <para>
/// Readers on other connections could now see a commit that is not on disk yet; one that acts on what it read (the
/// outbox sending it to DingTalk, a redelivery answered from its record, an operator's <c>GET</c>) first waits for
/// <see cref="DurableAsync"/>, which returns at once unless a commit is still on its way to the disk.
/// </para>
/// </remarks>
public sealed partial class SqliteWalSync : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly Queue<Commit> _queue = new();
    private readonly List<(long Through, TaskCompletionSource Done)> _fences = [];
    private readonly ILogger<SqliteWalSync> _logger;
    private Thread? _thread;
    private TaskCompletionSource? _stopped;
    private long _begun;
    private long _durable;
    private bool _busy;

    private readonly IHostApplicationLifetime? _lifetime;

    /// <summary>Set once an fsync has failed: from then on nothing is durable any more (see <see cref="Run"/>).</summary>
    private SqliteException? _failed;

    public SqliteWalSync(ILogger<SqliteWalSync> logger, IHostApplicationLifetime? lifetime = null)
    {
        _logger = logger;
        _lifetime = lifetime;
    }

    /// <summary>An fsync is under way or waiting to start: a batch committed now would wait for the next one anyway.</summary>
    public bool Busy => Volatile.Read(ref _busy);

    /// <summary>Called on the sync thread when the last commit handed in is durable and none is waiting.</summary>
    public Action? Idle { get; set; }

    /// <summary>fsync calls so far.</summary>
    public long Syncs { get; private set; }

    /// <summary>How the WAL is flushed: fsync. Tests hold it to see who waits for the disk.</summary>
    internal Action<SafeFileHandle> FlushToDisk { get; set; } = RandomAccess.FlushToDisk;

    /// <summary>
    /// Opens the WAL of the writer's database, to sync it; <c>null</c> for an in-memory database, which has no disk to
    /// wait for. Call once the connection is in WAL mode (it has created the file then); SQLite deletes it only when
    /// the last connection closes, so it stays the same file while the writer's connection is open.
    /// </summary>
    public static SafeFileHandle? OpenWal(SqliteConnection connection) =>
        string.IsNullOrEmpty(connection.DataSource)
            ? null
            : File.OpenHandle(connection.DataSource + "-wal", FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    /// <summary>Numbers a COMMIT about to run (holding the writer); report how it ended with <see cref="Committed"/> or <see cref="Failed"/>.</summary>
    public long Begin() => Interlocked.Increment(ref _begun);

    /// <summary>
    /// Commit <paramref name="number"/> returned: <paramref name="durable"/> completes once it is on disk — at once when
    /// <paramref name="wal"/> is <c>null</c> (in memory) — or fails if the fsync does.
    /// </summary>
    public void Committed(long number, SafeFileHandle? wal, TaskCompletionSource durable) => Enqueue(new Commit(number, wal, durable));

    /// <summary>Commit <paramref name="number"/> failed and left nothing to make durable.</summary>
    public void Failed(long number) => Enqueue(new Commit(number, null, null));

    /// <summary>Completes once every commit begun so far is on disk: call after a read whose result leaves the process.</summary>
    public Task DurableAsync()
    {
        if (Volatile.Read(ref _failed) is { } failed)
        {
            return Task.FromException(failed);
        }

        var through = Volatile.Read(ref _begun);
        if (Volatile.Read(ref _durable) >= through)
        {
            return Task.CompletedTask;
        }

        lock (_gate)
        {
            if (_failed is { } failedMeanwhile)
            {
                return Task.FromException(failedMeanwhile); // Fail has failed the fences already: a new one would wait forever
            }

            if (_durable >= through)
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _fences.Add((through, done));
            return done.Task;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task? stopped = null;
        lock (_gate)
        {
            if (_thread is not null)
            {
                _stopped ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                stopped = _stopped.Task;
                Monitor.PulseAll(_gate);
            }
        }

        if (stopped is not null)
        {
            await stopped;
        }
    }

    private void Enqueue(Commit commit)
    {
        lock (_gate)
        {
            if (_failed is { } failed)
            {
                commit.Durable?.TrySetException(failed);
                return;
            }

            if (commit.Wal is null && !_busy)
            {
                // Nothing to sync, and no fsync under way or waiting for a commit before it: durable now (in memory,
                // or a COMMIT that failed). Behind an fsync it waits its turn, or the reads would pass that fsync's commits.
                Advance(commit.Number);
                commit.Durable?.TrySetResult();
                return;
            }

            _queue.Enqueue(commit);
            Volatile.Write(ref _busy, true);
            if (_thread is null)
            {
                _thread = new Thread(Run) { IsBackground = true, Name = "SQLite WAL sync" };
                _thread.Start();
            }
            else
            {
                Monitor.Pulse(_gate);
            }
        }
    }

    /// <summary>Whatever was committed before an fsync started is durable when it returns: one fsync serves every batch that queued meanwhile.</summary>
    private void Run()
    {
        var round = new List<Commit>();
        while (true)
        {
            lock (_gate)
            {
                while (_queue.Count == 0 && _stopped is null)
                {
                    Monitor.Wait(_gate);
                }

                if (_queue.Count == 0)
                {
                    _stopped!.TrySetResult();
                    return;
                }

                round.AddRange(_queue);
                _queue.Clear();
            }

            Exception? failure = null;
            foreach (var wal in round.Where(c => c.Wal is not null).Select(c => c.Wal!).Distinct())
            {
                try
                {
                    FlushToDisk(wal);
                    Syncs++;
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException or UnauthorizedAccessException)
                {
                    failure = ex;
                    Log.SyncFailed(_logger, ex.Message);
                }
            }

            if (failure is not null)
            {
                // The batches it covered are committed — visible to every connection — but maybe not on disk, and after a
                // failed fsync the kernel may have dropped their pages: no later fsync can vouch for them. So nothing is
                // durable from now on: their units, every later one and every read that would let data leave the process
                // fail with SQLITE_IOERR_FSYNC (503, DingTalk retries), and the gateway stops, so that on restart SQLite
                // recovers from what really reached the disk and the retries are handled for real.
                Fail(new SqliteException("The SQLite write-ahead log could not be flushed to disk: " + failure.Message + "; the gateway stops so that SQLite recovers from what reached the disk", 10, 1034));
            }

            foreach (var commit in round)
            {
                if (Volatile.Read(ref _failed) is { } failed)
                {
                    commit.Durable?.TrySetException(failed);
                }
                else
                {
                    commit.Durable?.TrySetResult();
                }
            }

            bool idle;
            lock (_gate)
            {
                if (_failed is null)
                {
                    Advance(round[^1].Number);
                }

                idle = _queue.Count == 0;
                if (idle)
                {
                    Volatile.Write(ref _busy, false);
                }
            }

            round.Clear();
            if (idle)
            {
                Idle?.Invoke();
            }
        }
    }

    /// <summary>An fsync failed: every waiting read and every later unit fails with <paramref name="error"/>, and the gateway stops.</summary>
    private void Fail(SqliteException error)
    {
        lock (_gate)
        {
            if (_failed is not null)
            {
                return;
            }

            Volatile.Write(ref _failed, error);
            foreach (var (_, done) in _fences)
            {
                done.TrySetException(error);
            }

            _fences.Clear();
        }

        _lifetime?.StopApplication();
    }

    /// <summary>Called holding the gate: commits up to <paramref name="number"/> are on disk (or never will be); releases the reads waiting for them.</summary>
    private void Advance(long number)
    {
        if (number <= _durable)
        {
            return;
        }

        Volatile.Write(ref _durable, number);
        for (var i = _fences.Count - 1; i >= 0; i--)
        {
            if (_fences[i].Through <= number)
            {
                _fences[i].Done.TrySetResult();
                _fences.RemoveAt(i);
            }
        }
    }

    private readonly record struct Commit(long Number, SafeFileHandle? Wal, TaskCompletionSource? Durable);

    private static partial class Log
    {
        [LoggerMessage(4302, LogLevel.Critical, "fsync of the SQLite write-ahead log failed ({Reason}): nothing written since can be trusted to be on disk, so every callback is answered 503 (DingTalk retries) and the gateway stops; check the disk, then start it again: SQLite recovers from what reached the disk")]
        public static partial void SyncFailed(ILogger logger, string reason);
    }
}
