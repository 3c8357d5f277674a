using DingTalk.CardGateway.Hosting;

namespace DingTalk.CardGateway.Tests.Fixtures;

public sealed class PostgresStorageFixture : StorageFixture
{
    public override string Provider => StorageOptions.Postgres;

    protected override Task<string?> CreateDatabaseAsync() => PostgresServer.CreateDatabaseAsync();

    protected override Task DropDatabaseAsync(string? connectionString) => PostgresServer.DropDatabaseAsync(connectionString);
}
