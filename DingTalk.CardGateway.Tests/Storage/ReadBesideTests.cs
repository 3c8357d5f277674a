using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>
/// A background read beside the writer (the outbox dispatcher's): in memory no connection may read while the writer's
/// batch is open, so it waits for the batch to end instead of meeting its lock (SQLite's busy handler sleeps a pool
/// thread on it); on a file (WAL) it never waits for the writer.
/// </summary>
public sealed class ReadBesideTests
{
    /// <summary>Long enough for a read that should not run yet to have run, were it going to.</summary>
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task In_memory_a_read_waits_for_the_open_batch_to_commit_instead_of_meeting_its_locks()
    {
        var (whileHeld, after) = await ReadWhileAUnitHoldsTheWriterAsync(new InMemoryStorageFixture());

        Assert.False(whileHeld, "the read ran while the writer's batch was open");
        Assert.True(after);
    }

    [Fact]
    public async Task On_a_file_a_read_runs_at_once_even_while_a_unit_holds_the_writer()
    {
        var (whileHeld, _) = await ReadWhileAUnitHoldsTheWriterAsync(new SqliteStorageFixture());

        Assert.True(whileHeld);
    }

    private static async Task<(bool WhileHeld, bool After)> ReadWhileAUnitHoldsTheWriterAsync(StorageFixture storage)
    {
        await storage.InitializeAsync();
        try
        {
            var batcher = storage.Services.GetRequiredService<SqliteWriteBatcher>();
            await using var scope = storage.Scope();
            var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
            await session.BeginAsync(default); // the unit holds the writer; its batch is open

            var ran = false;
            var reading = batcher.ReadBesideAsync(
                _ =>
                {
                    Volatile.Write(ref ran, true);
                    return Task.FromResult(0);
                },
                default);
            await Task.Delay(Settle);
            var whileHeld = Volatile.Read(ref ran);

            await session.CommitAsync(default);
            await reading.WaitAsync(TimeSpan.FromSeconds(10));
            return (whileHeld, Volatile.Read(ref ran));
        }
        finally
        {
            await storage.DisposeAsync();
        }
    }

    private sealed class InMemoryStorageFixture : StorageFixture
    {
        public override string Provider => StorageOptions.Sqlite;

        protected override Task<string?> CreateDatabaseAsync() => Task.FromResult<string?>("Data Source=:memory:");
    }
}
