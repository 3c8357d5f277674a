using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>Units of work made into one SQLite group-commit batch, in a known order.</summary>
internal static class OneBatch
{
    /// <summary>
    /// A first unit begins and holds the writer while the <paramref name="queued"/> units start one after another and
    /// wait behind it, in that order; then the first does <paramref name="firstWork"/> and commits, and all of them
    /// are one batch. Returns once every unit has finished.
    /// </summary>
    public static async Task RunAsync(StorageFixture storage, Func<AsyncServiceScope, Task> firstWork, IEnumerable<Func<Task>> queued)
    {
        var batcher = storage.Services.GetRequiredService<SqliteWriteBatcher>();
        await using var first = storage.Scope();
        var session = first.ServiceProvider.GetRequiredService<StorageSession>();
        await session.BeginAsync(default);
        var waiting = new List<Task>();
        foreach (var unit in queued)
        {
            waiting.Add(unit());
            await Eventually.TrueAsync(() => batcher.Waiting == waiting.Count, $"queued unit {waiting.Count} waits for the writer");
        }

        await firstWork(first);
        await session.CommitAsync(default);
        await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// The writer's commits once nothing is left open or unsynced. A write just before may still sit in a batch that waits
    /// for the disk (committed the moment it is free): read too early, that commit would count inside what a test measures.
    /// </summary>
    public static async Task<long> SettledCommitsAsync(StorageFixture storage)
    {
        var batcher = storage.Services.GetRequiredService<SqliteWriteBatcher>();
        await batcher.ExclusiveAsync(() => Task.FromResult(0), default); // commits the open batch, if any
        await batcher.DurableAsync();
        return batcher.Commits;
    }

    /// <summary>One unit of work in a scope of its own, as a callback's: begin, <paramref name="work"/>, then commit or roll back.</summary>
    public static async Task<T> UnitAsync<T>(StorageFixture storage, Func<AsyncServiceScope, Task<T>> work, bool keep)
    {
        await using var scope = storage.Scope();
        var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
        await session.BeginAsync(default);
        var result = await work(scope);
        if (keep)
        {
            await session.CommitAsync(default);
        }
        else
        {
            await session.RollbackAsync();
        }

        return result;
    }
}
