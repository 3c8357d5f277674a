using System.Data.Common;
using System.Runtime.InteropServices;
using DingTalk.CardGateway.Hosting;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>The configured database: its dialect and how to open a ready connection.</summary>
public sealed class GatewayDatabase : IDisposable
{
    /// <summary>Holds an in-memory SQLite database open: it exists only while some connection to it does.</summary>
    private readonly SqliteConnection? _memoryKeeper;
    private readonly FileStream? _fileLock;

    static GatewayDatabase()
    {
        // Columns are snake_case; rows are C# PascalCase.
        Dapper.DefaultTypeMap.MatchNamesWithUnderscores = true;
    }

    public GatewayDatabase(IOptions<GatewayOptions> options, IHostEnvironment environment, TimeProvider? clock = null)
    {
        Writes = new StorageWrites(clock ?? TimeProvider.System);
        var storage = options.Value.Storage;
        if (string.Equals(storage.Provider, StorageOptions.Postgres, StringComparison.OrdinalIgnoreCase))
        {
            Dialect = new PostgresDialect();
            ConnectionString = PostgresConnectionString(storage.ConnectionString!);
        }
        else
        {
            ConnectionString = SqliteConnectionString(storage.ConnectionString, environment.ContentRootPath);
            var builder = new SqliteConnectionStringBuilder(ConnectionString);
            var inMemory = IsMemory(builder);
            Dialect = new SqliteDialect(inMemory);
            if (inMemory)
            {
                _memoryKeeper = new SqliteConnection(ConnectionString);
                _memoryKeeper.Open();
                LiftSizeLimit(_memoryKeeper);
            }
            else
            {
                _fileLock = LockFile(builder.DataSource);
                SqliteFile = builder.DataSource;
            }
        }
    }

    public void Dispose()
    {
        _memoryKeeper?.Dispose();
        _fileLock?.Dispose();
    }

    public SqlDialect Dialect { get; }

    /// <summary>Whether the database takes writes: said by whatever meets a failed one.</summary>
    public StorageWrites Writes { get; }

    public string ConnectionString { get; }

    /// <summary>The SQLite database's file; null in memory and on PostgreSQL.</summary>
    public string? SqliteFile { get; }

    /// <summary>
    /// This process alone uses the database (a SQLite file, whose lock it holds): every lease found in it at startup is
    /// a previous process's, ended without releasing it.
    /// </summary>
    public bool Exclusive => _fileLock is not null;

    /// <summary>A SQLite file, whose WAL <see cref="SqliteCheckpointer"/> copies back beside the writer rather than in its commits.</summary>
    public bool CheckpointsInBackground => Dialect is SqliteDialect && _memoryKeeper is null;

    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = Dialect.CreateConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await Dialect.PrepareAsync(connection, cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Two Npgsql defaults changed unless the connection string sets them: statements are prepared automatically on
    /// each pooled connection after a few uses (every callback runs the same dozen statements, so parsing and planning
    /// them each time is waste); and a connection going back to the pool is not reset, since the gateway leaves no
    /// session state behind (no SET, LISTEN, temporary table or session lock) and the reset is seven more statements
    /// for PostgreSQL to run on every callback's connection (+3% votes/s on one hot card, bench/HISTORY.md).
    /// </summary>
    private static string PostgresConnectionString(string configured)
    {
        var set = new DbConnectionStringBuilder { ConnectionString = configured }.Keys.Cast<string>()
            .Select(key => key.Replace(" ", "", StringComparison.Ordinal))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(configured);
        if (!set.Contains(nameof(builder.MaxAutoPrepare)))
        {
            builder.MaxAutoPrepare = 64;
        }

        if (!set.Contains(nameof(builder.NoResetOnClose)))
        {
            builder.NoResetOnClose = true;
        }

        return builder.ToString();
    }

    /// <summary>
    /// One gateway process per SQLite file: its writer keeps hot rows in memory (<see cref="SqliteRowCache"/>), which a
    /// second process writing the same file would silently make stale. The lock (an OS file lock, released when the
    /// process ends however it ends) stops a second one at startup with one line saying so.
    /// </summary>
    private static FileStream LockFile(string databasePath)
    {
        var path = databasePath + ".lock";
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
        }
        catch (IOException ex)
        {
            throw new IOException(
                $"The SQLite database {databasePath} is in use by another gateway (its lock file {path} is held). "
                + "Run one gateway per SQLite file; for several replicas use Gateway:Storage:Provider=Postgres.",
                ex);
        }
    }

    /// <summary>In memory, for trying things out: nothing survives a restart.</summary>
    private static bool IsMemory(SqliteConnectionStringBuilder builder) =>
        builder.DataSource == ":memory:" || builder.Mode == SqliteOpenMode.Memory || IsMemdb(builder.DataSource);

    private static bool IsMemdb(string dataSource) =>
        dataSource.StartsWith("file:", StringComparison.OrdinalIgnoreCase) && dataSource.Contains("vfs=memdb", StringComparison.Ordinal);

    /// <summary>
    /// The most an in-memory database holds: SQLite's memdb VFS keeps it in one allocation, which SQLite allows up to
    /// ~2 GiB (<c>SQLITE_MAX_ALLOCATION_SIZE</c>); its default cap is 1 GiB. Past it every write fails with SQLITE_FULL
    /// (503 to DingTalk, which retries). Retention keeps a trial's database far below it.
    /// </summary>
    public const long MemorySizeLimitBytes = 2_000_000_000;

    /// <summary>Raises the memdb cap to <see cref="MemorySizeLimitBytes"/>, once: the limit belongs to the database, not the connection.</summary>
    private static void LiftSizeLimit(SqliteConnection connection)
    {
        if (SizeLimit(connection, MemorySizeLimitBytes) != MemorySizeLimitBytes)
        {
            throw new InvalidOperationException("SQLite refused to raise the in-memory database's size limit.");
        }
    }

    /// <summary>The in-memory database's size limit as SQLite has it (tests).</summary>
    internal long MemorySizeLimit() => SizeLimit(_memoryKeeper!, -1);

    /// <summary><c>SQLITE_FCNTL_SIZE_LIMIT</c>: sets the limit (or, given a negative one, only reads it); returns the limit now, or -1 if SQLite refused.</summary>
    private static long SizeLimit(SqliteConnection connection, long limit) =>
        NativeMethods.sqlite3_file_control(connection.Handle!.DangerousGetHandle(), "main", NativeMethods.SqliteFcntlSizeLimit, ref limit) == 0 ? limit : -1;

    /// <summary>A relative SQLite file lives under the content root; its folder is created.</summary>
    private static string SqliteConnectionString(string? configured, string contentRoot)
    {
        var builder = new SqliteConnectionStringBuilder(string.IsNullOrWhiteSpace(configured) ? StorageOptions.DefaultSqlite : configured)
        {
            Pooling = true,
        };
        if (IsMemory(builder))
        {
            // Every connection must see the same database, named if it was not: SQLite's memdb VFS (a name beginning
            // with "/" is shared by the process's connections), not a shared-cache ":memory:" database. Shared cache
            // keeps the whole database in one page cache, whose hash table commits walked whole to truncate it —
            // ~1.7 ms a time, ~90 times a second under load, inside the writer's turn (bench/HISTORY.md) — and it
            // locks whole tables; with memdb each connection has its own small page cache.
            if (!IsMemdb(builder.DataSource))
            {
                var name = builder.DataSource == ":memory:" ? $"cardgateway-{Guid.NewGuid():N}" : builder.DataSource;
                builder.DataSource = $"file:/{Uri.EscapeDataString(name.TrimStart('/'))}?vfs=memdb";
            }

            builder.Mode = SqliteOpenMode.ReadWriteCreate;
            builder.Cache = SqliteCacheMode.Default;
        }
        else
        {
            builder.DataSource = Path.GetFullPath(builder.DataSource, contentRoot);
            Directory.CreateDirectory(Path.GetDirectoryName(builder.DataSource)!);
        }

        return builder.ToString();
    }

    private static class NativeMethods
    {
        public const int SqliteFcntlSizeLimit = 36; // SQLITE_FCNTL_SIZE_LIMIT

        [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl)]
        public static extern int sqlite3_file_control(IntPtr db, [MarshalAs(UnmanagedType.LPUTF8Str)] string dbName, int op, ref long arg);
    }
}
