using Dapper;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>
/// <c>Data Source=:memory:</c> (or <c>Mode=Memory</c>) is one database in SQLite's memdb VFS that every connection of
/// the gateway shares, with its rollback journal in memory too, and room for <see cref="GatewayDatabase.MemorySizeLimitBytes"/>.
/// </summary>
public sealed class InMemoryDatabaseTests
{
    [Theory]
    [InlineData("Data Source=:memory:")]
    [InlineData("Data Source=trying-out;Mode=Memory")]
    [InlineData("Data Source=gateway;Mode=Memory;Cache=Shared")]
    [InlineData("Data Source=file:/given?vfs=memdb")]
    public async Task Every_connection_sees_one_database_kept_in_memory_with_nothing_on_disk(string connectionString)
    {
        using var database = Open(connectionString);
        Assert.False(database.CheckpointsInBackground); // no WAL to copy back
        await using var writer = await database.OpenAsync(CancellationToken.None);
        await using var reader = await database.OpenAsync(CancellationToken.None);

        await writer.ExecuteAsync("CREATE TABLE notes (text TEXT NOT NULL); INSERT INTO notes VALUES ('seen by all')");

        Assert.Equal("seen by all", await reader.ExecuteScalarAsync<string>("SELECT text FROM notes"));
        Assert.Equal("memory", await writer.ExecuteScalarAsync<string>("PRAGMA journal_mode"));
        Assert.Equal("", await writer.ExecuteScalarAsync<string>("SELECT file FROM pragma_database_list WHERE name = 'main'"));
    }

    [Fact]
    public async Task Two_gateways_in_one_process_each_get_their_own_database()
    {
        using var first = Open("Data Source=:memory:");
        using var second = Open("Data Source=:memory:");
        await using var one = await first.OpenAsync(CancellationToken.None);
        await using var other = await second.OpenAsync(CancellationToken.None);

        await one.ExecuteAsync("CREATE TABLE notes (text TEXT NOT NULL)");

        Assert.Equal(0, await other.ExecuteScalarAsync<int>("SELECT count(*) FROM sqlite_master WHERE name = 'notes'"));
    }

    [Fact]
    public void The_database_may_grow_past_SQLites_default_cap_of_1_GiB()
    {
        using var database = Open("Data Source=:memory:");

        Assert.Equal(GatewayDatabase.MemorySizeLimitBytes, database.MemorySizeLimit());
        Assert.True(GatewayDatabase.MemorySizeLimitBytes > 1L << 30);
    }

    private static GatewayDatabase Open(string connectionString) => new(
        Options.Create(new GatewayOptions { Storage = new() { ConnectionString = connectionString } }),
        new HostingEnvironment { ContentRootPath = Path.GetTempPath() });
}
