using Dapper;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Brings the schema up to date before the gateway serves: each numbered migration runs once, in its own
/// transaction, with replicas that start together serialised on a lock.
/// </summary>
public sealed partial class SchemaMigrator(GatewayDatabase database, ILogger<SchemaMigrator> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var migrations = Schema.Migrations(database.Dialect);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.Dialect.BeginWriteAsync(connection, cancellationToken);
        await database.Dialect.LockForMigrationAsync(connection, transaction, cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
            transaction: transaction,
            cancellationToken: cancellationToken));
        var applied = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT MAX(version) FROM schema_migrations", transaction: transaction, cancellationToken: cancellationToken)) ?? 0;

        for (var version = (int)applied + 1; version <= migrations.Count; version++)
        {
            await connection.ExecuteAsync(new CommandDefinition(migrations[version - 1], transaction: transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (@version, @now)",
                new { version, now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() },
                transaction,
                cancellationToken: cancellationToken));
            Log.Migrated(logger, database.Dialect.Name, version);
        }

        await transaction.CommitAsync(cancellationToken);
        Log.Ready(logger, database.Dialect.Name, migrations.Count);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(4001, LogLevel.Information, "{Provider} schema migrated to version {Version}")]
        public static partial void Migrated(ILogger logger, string provider, int version);

        [LoggerMessage(4002, LogLevel.Information, "{Provider} storage ready at schema version {Version}")]
        public static partial void Ready(ILogger logger, string provider, int version);
    }
}
