using System.Data.Common;
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

    public GatewayDatabase(IOptions<GatewayOptions> options, IHostEnvironment environment)
    {
        var storage = options.Value.Storage;
        if (string.Equals(storage.Provider, StorageOptions.Postgres, StringComparison.OrdinalIgnoreCase))
        {
            Dialect = new PostgresDialect();
            ConnectionString = PostgresConnectionString(storage.ConnectionString!);
        }
        else
        {
            Dialect = new SqliteDialect();
            ConnectionString = SqliteConnectionString(storage.ConnectionString, environment.ContentRootPath);
            var builder = new SqliteConnectionStringBuilder(ConnectionString);
            if (IsMemory(builder))
            {
                _memoryKeeper = new SqliteConnection(ConnectionString);
                _memoryKeeper.Open();
            }
            else
            {
                _fileLock = LockFile(builder.DataSource);
            }
        }
    }

    public void Dispose()
    {
        _memoryKeeper?.Dispose();
        _fileLock?.Dispose();
    }

    public SqlDialect Dialect { get; }

    public string ConnectionString { get; }

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
    /// for PostgreSQL to run on every callback's connection (+3% votes/s on one hot card, README: Benchmarks).
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
    private static bool IsMemory(SqliteConnectionStringBuilder builder) => builder.DataSource == ":memory:" || builder.Mode == SqliteOpenMode.Memory;

    /// <summary>A relative SQLite file lives under the content root; its folder is created.</summary>
    private static string SqliteConnectionString(string? configured, string contentRoot)
    {
        var builder = new SqliteConnectionStringBuilder(string.IsNullOrWhiteSpace(configured) ? StorageOptions.DefaultSqlite : configured)
        {
            Pooling = true,
        };
        if (IsMemory(builder))
        {
            // Every connection must see the same database: one shared in-memory database, named if it was not.
            if (builder.DataSource == ":memory:")
            {
                builder.DataSource = $"cardgateway-{Guid.NewGuid():N}";
            }

            builder.Mode = SqliteOpenMode.Memory;
            builder.Cache = SqliteCacheMode.Shared;
        }
        else
        {
            builder.DataSource = Path.GetFullPath(builder.DataSource, contentRoot);
            Directory.CreateDirectory(Path.GetDirectoryName(builder.DataSource)!);
        }

        return builder.ToString();
    }
}
