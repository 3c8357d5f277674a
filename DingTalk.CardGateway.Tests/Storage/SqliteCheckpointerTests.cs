using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>The group-commit writer leaves the WAL to <see cref="SqliteCheckpointer"/>, which copies it back and lets it start over.</summary>
public sealed class SqliteCheckpointerTests : IAsyncLifetime
{
    private const int PageSize = 4096;
    private readonly SqliteStorageFixture _storage = new();

    public Task InitializeAsync() => _storage.InitializeAsync();

    public Task DisposeAsync() => _storage.DisposeAsync();

    [Fact]
    public async Task The_writer_does_not_checkpoint_the_checkpointer_copies_everything_back_and_the_wal_starts_over()
    {
        var database = _storage.Services.GetRequiredService<GatewayDatabase>();
        Assert.True(database.CheckpointsInBackground);
        var wal = new SqliteConnectionStringBuilder(database.ConnectionString).DataSource + "-wal";

        // 60 commits of ~25 pages each: SQLite's own checkpoint would have started the WAL over at 1,000 pages.
        for (var i = 0; i < 60; i++)
        {
            await SaveCardAsync($"card-{i}");
        }

        Assert.True(new FileInfo(wal).Length > 1_200 * PageSize, $"the WAL is {new FileInfo(wal).Length} bytes: the writer checkpointed by itself");

        var log = new FakeLogger<SqliteCheckpointer>();
        var checkpointer = new SqliteCheckpointer(database, _storage.Services.GetRequiredService<SqliteWriteBatcher>(), TimeProvider.System, log)
        {
            RestartPages = 1_000,
        };

        // A unit whose transaction began before the copy, as the writer's open batch under load: it writes while the
        // pass runs, so only a pass finished during the writer's turn leaves a WAL that can start over.
        await using (var busy = _storage.Scope())
        {
            var session = busy.ServiceProvider.GetRequiredService<StorageSession>();
            await session.BeginAsync(CancellationToken.None);
            var pass = checkpointer.CheckpointAsync(CancellationToken.None);
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            await busy.ServiceProvider.GetRequiredService<ICardStore>().SaveAsync(Card("written-during-the-pass"), CancellationToken.None);
            await session.CommitAsync(CancellationToken.None);
            var copied = await pass;
            Assert.True(copied.Pages > 1_200, $"{copied.Pages} pages in the WAL");
            Assert.Equal(copied.Pages, copied.Copied);
        }

        // How long the clicks waited for it is there to read when a p99 needs explaining.
        var restart = Assert.Single(log.Collector.GetSnapshot(), r => r.Id.Id == 4303);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Debug, restart.Level);
        Assert.Matches(@"^The SQLite WAL \(\d+ pages\) was copied back to start over: \d+\.\d ms from asking for the writer, \d+\.\d ms of it holding it$", restart.Message);

        await SaveCardAsync("after-the-checkpoint");
        var next = await checkpointer.CheckpointAsync(CancellationToken.None);
        Assert.True(next.Pages < 100, $"the WAL did not start over: {next.Pages} pages");

        await using var scope = _storage.Scope();
        var cards = scope.ServiceProvider.GetRequiredService<ICardStore>();
        for (var i = 0; i < 60; i++)
        {
            Assert.Equal(Payload(), (await cards.FindAsync($"card-{i}", CancellationToken.None))!.PublicData["payload"]);
        }

        Assert.NotNull(await cards.FindAsync("written-during-the-pass", CancellationToken.None));
        Assert.NotNull(await cards.FindAsync("after-the-checkpoint", CancellationToken.None));
    }

    [Fact]
    public async Task A_pass_under_the_restart_size_copies_without_taking_the_writer()
    {
        var database = _storage.Services.GetRequiredService<GatewayDatabase>();
        var batcher = _storage.Services.GetRequiredService<SqliteWriteBatcher>();
        var checkpointer = new SqliteCheckpointer(database, batcher, TimeProvider.System, NullLogger<SqliteCheckpointer>.Instance);
        await SaveCardAsync("one");

        // A unit holds the writer: a pass below RestartPages must not wait for it.
        await using var scope = _storage.Scope();
        var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
        await session.BeginAsync(CancellationToken.None);
        var pass = checkpointer.CheckpointAsync(CancellationToken.None);
        Assert.Same(pass, await Task.WhenAny(pass, Task.Delay(TimeSpan.FromSeconds(10))));
        var state = await pass;
        Assert.Equal(state.Pages, state.Copied);
        await session.RollbackAsync();
    }

    [Fact]
    public async Task Between_commits_a_pass_copies_everything_and_the_next_commit_starts_the_wal_over_without_a_turn_of_the_writer()
    {
        var database = _storage.Services.GetRequiredService<GatewayDatabase>();
        var batcher = _storage.Services.GetRequiredService<SqliteWriteBatcher>();
        var checkpointer = new SqliteCheckpointer(database, batcher, TimeProvider.System, NullLogger<SqliteCheckpointer>.Instance);
        for (var i = 0; i < 20; i++)
        {
            await SaveCardAsync($"card-{i}");
        }

        var copied = await checkpointer.CheckpointAsync(CancellationToken.None);
        Assert.True(copied.Pages > 400, $"{copied.Pages} pages in the WAL");
        Assert.True(copied.Pages < checkpointer.RestartPages); // no turn of the writer was asked for
        Assert.Equal(copied.Pages, copied.Copied);

        // A light load leaves gaps like this one: the WAL does not grow towards RestartPages.
        await SaveCardAsync("after-the-pass");
        var next = await checkpointer.CheckpointAsync(CancellationToken.None);
        Assert.True(next.Pages < 100, $"the WAL did not start over: {next.Pages} pages");
    }

    private static string Payload() => new('x', 100_000);

    private static CardRecord Card(string id) =>
        new() { Id = id, Kind = CardKind.Advanced, TemplateId = "t", PublicData = new Dictionary<string, string> { ["payload"] = Payload() } };

    private async Task SaveCardAsync(string id)
    {
        await using var scope = _storage.Scope();
        await scope.ServiceProvider.GetRequiredService<ICardStore>().SaveAsync(Card(id), CancellationToken.None);
    }
}
