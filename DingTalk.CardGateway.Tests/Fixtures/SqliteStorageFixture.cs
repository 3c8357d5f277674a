using DingTalk.CardGateway.Hosting;

namespace DingTalk.CardGateway.Tests.Fixtures;

public sealed class SqliteStorageFixture : StorageFixture
{
    public override string Provider => StorageOptions.Sqlite;

    protected override Task<string?> CreateDatabaseAsync() =>
        Task.FromResult<string?>($"Data Source={Path.Combine(Path.GetTempPath(), $"cg-test-{Guid.NewGuid():N}.db")}");

    protected override Task DropDatabaseAsync(string? connectionString)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var file = connectionString?["Data Source=".Length..];
        foreach (var suffix in new[] { "", "-wal", "-shm", ".lock" })
        {
            File.Delete(file + suffix);
        }

        return Task.CompletedTask;
    }
}
