using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// The next release, as far as the database can tell: this build's migrations and one more, which adds a column to the
/// callbacks and says whether builds before it may go on using the database. Its real migrator writes what that
/// release would (the migration's row, the lowest schema version a build must know).
/// </summary>
public static class NewerBuild
{
    /// <summary>The column the newer build's migration adds.</summary>
    public const string Column = "newer_build_note";

    /// <summary>The newer build's schema version: one past this build's.</summary>
    public static int Version(SqlDialect dialect) => Schema.Migrations(dialect).Count + 1;

    /// <summary>Runs the newer build's migrator on the database <paramref name="services"/> use (a new process of that build).</summary>
    public static Task MigrateAsync(IServiceProvider services, bool olderBuildsMayRun) =>
        Migrator(services.GetRequiredService<GatewayDatabase>(), services.GetRequiredService<IOptions<GatewayOptions>>(), olderBuildsMayRun).StartAsync(CancellationToken.None);

    /// <summary>Runs the newer build's migrator on a database of its own: the database is left as that build leaves it, unlocked.</summary>
    public static async Task MigrateAsync(string provider, string connectionString, bool olderBuildsMayRun)
    {
        var options = Options.Create(new GatewayOptions { Storage = { Provider = provider, ConnectionString = connectionString } });
        using var database = new GatewayDatabase(options, new HostingEnvironment { ContentRootPath = Path.GetTempPath(), EnvironmentName = "Testing" });
        await Migrator(database, options, olderBuildsMayRun).StartAsync(CancellationToken.None);
    }

    /// <summary>This build's schema again, on a database the newer build migrated: its column, its row and its floor gone.</summary>
    public static async Task UndoAsync(GatewayDatabase database)
    {
        await using var connection = await database.OpenAsync(CancellationToken.None);
        await connection.RunAsync(null, $"ALTER TABLE callbacks DROP COLUMN {Column}", CancellationToken.None);
        await connection.RunAsync(null, $"DELETE FROM schema_migrations WHERE version >= {Version(database.Dialect)}", CancellationToken.None);
        await connection.RunAsync(null, $"UPDATE schema_floor SET min_build_version = {Schema.MinBuildVersion(Schema.Migrations(database.Dialect))}", CancellationToken.None);
    }

    private static SchemaMigrator Migrator(GatewayDatabase database, IOptions<GatewayOptions> options, bool olderBuildsMayRun) =>
        new(database, options, TimeProvider.System, NullLogger<SchemaMigrator>.Instance)
        {
            Migrations = dialect => [.. Schema.Migrations(dialect), new Migration($"ALTER TABLE callbacks ADD COLUMN {Column} TEXT NULL", olderBuildsMayRun)],
        };
}
