using DingTalk.CardGateway.Hosting;

namespace DingTalk.CardGateway.Tests.Fixtures;

public sealed class SqliteStorageFixture : StorageFixture
{
    public override string Provider => StorageOptions.Sqlite;

    protected override Task<string?> CreateDatabaseAsync() =>
        Task.FromResult<string?>($"Data Source={Path.Combine(Path.GetTempPath(), $"cg-test-{Guid.NewGuid():N}.db")}");

    protected override Task DropDatabaseAsync(string? connectionString)
    {
        SqliteFiles.Delete(connectionString?["Data Source=".Length..] ?? "");

        return Task.CompletedTask;
    }
}
