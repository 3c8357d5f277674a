using System.Data.Common;
using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// An online backup of the SQLite file: a consistent snapshot of the whole database, written by <c>VACUUM INTO</c> to a
/// file beside it on a reader of its own while clicks and the outbox go on, then handed out and deleted.
/// </summary>
/// <remarks>
/// In WAL mode a reader never holds the writer up: the snapshot is the last commit before it began, and commits go on
/// beside it (tested: a backup is taken while a unit holds the writer). Until it ends the checkpointer copies back only
/// what came before its snapshot, so the WAL grows by what is written meanwhile and is copied back at the first pass
/// after; a pass that reaches <see cref="SqliteCheckpointer.RestartPages"/> meanwhile finds nothing new to copy and
/// gives the writer back at once (~0.2 ms a pass, measured with a reader held 3 s under votes). <c>VACUUM INTO</c>
/// rather than the backup API (<c>SqliteConnection.BackupDatabase</c>): it is one SQL statement that
/// <c>sqlite3_interrupt</c> stops at once when the caller goes away or the process stops, where the backup API copies
/// in one step that cannot be cancelled (copying a few pages at a time would start over at every commit of a busy
/// writer); and its file is a plain rollback-journal database without free pages, which opens on its own with no
/// <c>-wal</c> beside it. It costs more CPU than a page copy (~360 ms against ~260 ms for 100,000 callbacks, 45 MB),
/// none of it on the writer. One backup at a time: each needs room for a whole copy beside the database.
/// </remarks>
public sealed partial class SqliteBackup(
    GatewayDatabase database,
    SqliteWriteBatcher batcher,
    IHostApplicationLifetime lifetime,
    ILogger<SqliteBackup> logger) : IHostedService
{
    /// <summary>How a snapshot's file is named beside the database: <c>cardgateway.db.backup-…tmp</c>.</summary>
    private const string Infix = ".backup-";
    private const string Suffix = ".tmp";

    private int _underWay;

    /// <summary>A SQLite file, which a reader beside the writer can copy while it writes; not in memory, not PostgreSQL.</summary>
    public bool Possible => database.SqliteFile is not null;

    /// <summary>Where the next snapshot is written: a new file beside the database (tests point it elsewhere).</summary>
    internal Func<string> NextFile { get; set; } = () => $"{database.SqliteFile}{Infix}{Guid.NewGuid():N}{Suffix}";

    /// <summary>
    /// A snapshot of the database as of now, its file already deleted (its content readable until the snapshot is
    /// disposed); null while another backup is under way. Cancelled, or failing (a full disk), it leaves no file behind.
    /// </summary>
    public async Task<Snapshot?> TakeAsync(CancellationToken cancellationToken)
    {
        if (!Possible)
        {
            throw new InvalidOperationException("Only a SQLite file can be backed up while the gateway runs.");
        }

        if (Interlocked.CompareExchange(ref _underWay, 1, 0) != 0)
        {
            return null;
        }

        var path = NextFile();
        try
        {
            RemoveLeftOvers();
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
            var started = Stopwatch.GetTimestamp();
            await VacuumIntoAsync(path, stopping.Token);

            // The snapshot may hold a batch whose fsync is still under way: like every read that leaves the process, it
            // waits for it, so a backup never holds a click that a crash could yet take back.
            await batcher.DurableAsync();
            var content = OpenAndDelete(path);
            return new Snapshot(content, Stopwatch.GetElapsedTime(started), Done);
        }
        catch (Exception ex)
        {
            Delete(path);
            Delete(path + "-journal"); // the copy's own, should SQLite have left it
            Done();
            if (ex is OperationCanceledException or SqliteException { SqliteErrorCode: SqliteInterrupt })
            {
                // Only a cancellation interrupts it: the caller went away, or the process is stopping.
                Log.Abandoned(logger);
                throw new OperationCanceledException("The backup was abandoned.", ex, cancellationToken);
            }

            Log.Failed(logger, ex.Message);
            throw;
        }
    }

    /// <summary>At startup: the gateway holds the database's lock, so a snapshot file beside it is a process's that was killed while taking one.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (Possible)
        {
            RemoveLeftOvers();
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Done() => Volatile.Write(ref _underWay, 0);

    private const int SqliteInterrupt = 9; // SQLITE_INTERRUPT

    private async Task VacuumIntoAsync(string path, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        await using var connection = await database.OpenAsync(cancellationToken);
        var sqlite = (SqliteConnection)connection;
        await using var interrupt = cancellationToken.Register(() => SQLitePCL.raw.sqlite3_interrupt(sqlite.Handle));
        // The copy is not fsynced (SQLite would sync it, its journal and the folder at the connection's synchronous=FULL):
        // it is read at once and thrown away, and on a file system such as ext4 flushing tens of megabytes would hold up
        // the WAL's fsyncs, which every click waits for. The pool's next user of the connection sets FULL again.
        await connection.RunAsync(null, "PRAGMA synchronous=OFF", CancellationToken.None);
        await connection.RunAsync(null, "VACUUM INTO @path", CancellationToken.None, ("path", path));
    }

    /// <summary>
    /// Deleted as soon as it is open: on Linux the open handle keeps its content until it is closed, so nothing is left
    /// however the download ends (even a kill); elsewhere it goes when the handle is closed.
    /// </summary>
    private static FileStream OpenAndDelete(string path)
    {
        var content = new FileStream(
            path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan | FileOptions.DeleteOnClose);
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // deleted on close instead
        }

        return content;
    }

    private void RemoveLeftOvers()
    {
        var file = database.SqliteFile!;
        var removed = 0;
        foreach (var left in Directory.EnumerateFiles(Path.GetDirectoryName(file)!, Path.GetFileName(file) + Infix + "*" + Suffix + "*"))
        {
            if (Delete(left))
            {
                removed++;
            }
        }

        if (removed > 0)
        {
            Log.LeftOversRemoved(logger, removed);
        }
    }

    private static bool Delete(string path)
    {
        try
        {
            if (!File.Exists(path))
            {
                return false;
            }

            File.Delete(path);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>A consistent copy of the database: read it, then dispose it (which lets the next backup start).</summary>
    public sealed class Snapshot(FileStream content, TimeSpan took, Action done) : IAsyncDisposable
    {
        private int _disposed;

        public System.IO.Stream Content => content;

        public long Bytes { get; } = content.Length;

        /// <summary>How long <c>VACUUM INTO</c> and the wait for the disk took.</summary>
        public TimeSpan Took => took;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                await content.DisposeAsync();
                done();
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(4402, LogLevel.Error, "A backup of the SQLite database could not be taken ({Reason}); its file beside the database was removed")]
        public static partial void Failed(ILogger logger, string reason);

        [LoggerMessage(4403, LogLevel.Information, "A backup of the SQLite database was abandoned before it was taken (the caller went away, or the gateway is stopping); its file was removed")]
        public static partial void Abandoned(ILogger logger);

        [LoggerMessage(4404, LogLevel.Information, "Removed {Files} backup files left beside the SQLite database by a gateway that stopped while taking them")]
        public static partial void LeftOversRemoved(ILogger logger, int files);
    }
}
