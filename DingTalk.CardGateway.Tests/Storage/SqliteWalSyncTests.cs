using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>
/// The SQLite writer commits without waiting for the disk and <see cref="SqliteWalSync"/> fsyncs the WAL beside it:
/// nobody may learn of a commit — its unit, a reader on another connection — before that fsync returns.
/// </summary>
public sealed class SqliteWalSyncTests : IAsyncLifetime
{
    /// <summary>Long enough for a task that should not complete to have completed, were it going to.</summary>
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(300);

    private readonly SqliteStorageFixture _storage = new();

    public Task InitializeAsync() => _storage.InitializeAsync();

    public Task DisposeAsync() => _storage.DisposeAsync();

    [Fact]
    public async Task A_commit_is_reported_and_read_only_once_the_wal_is_on_disk_and_the_writer_goes_on_meanwhile()
    {
        var sync = _storage.Services.GetRequiredService<SqliteWalSync>();
        using var disk = new SemaphoreSlim(0);
        var flushing = HoldTheDisk(sync, disk);

        try
        {
            await CommitWhileTheDiskIsHeldAsync(disk, flushing);
        }
        finally
        {
            disk.Release(100); // a failed assertion must not leave the fsync (and the fixture's disposal) waiting
        }

        Assert.True(sync.Syncs >= 1);
    }

    private async Task CommitWhileTheDiskIsHeldAsync(SemaphoreSlim disk, Task flushing)
    {
        await using var first = _storage.Scope();
        var session = first.ServiceProvider.GetRequiredService<StorageSession>();
        await session.BeginAsync(CancellationToken.None);
        await first.ServiceProvider.GetRequiredService<ICardStore>().SaveAsync(Card("first"), CancellationToken.None);
        var committing = session.CommitAsync(CancellationToken.None);
        await flushing.WaitAsync(TimeSpan.FromSeconds(10)); // COMMIT has returned; the fsync is under way

        // Another connection sees the row already; it must not hand it out before the disk has it.
        await using var reader = _storage.Scope();
        var reading = reader.ServiceProvider.GetRequiredService<ICardStore>().FindAsync("first", CancellationToken.None);

        // The writer is not held by the disk: the next unit gets in and writes.
        await using var second = _storage.Scope();
        var next = second.ServiceProvider.GetRequiredService<StorageSession>();
        await next.BeginAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        await second.ServiceProvider.GetRequiredService<ICardStore>().SaveAsync(Card("second"), CancellationToken.None);
        var committingNext = next.CommitAsync(CancellationToken.None);

        await Task.Delay(Settle);
        Assert.False(committing.IsCompleted, "the unit was told it committed before the fsync returned");
        Assert.False(reading.IsCompleted, "a reader handed out a commit before the fsync returned");
        Assert.False(committingNext.IsCompleted, "the second unit was told it committed before any fsync covered it");

        disk.Release(10);
        await committing.WaitAsync(TimeSpan.FromSeconds(10));
        await committingNext.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("t", (await reading.WaitAsync(TimeSpan.FromSeconds(10)))!.TemplateId);
    }

    [Fact]
    public async Task While_the_disk_is_busy_the_next_batch_stays_open_for_more_units_and_commits_once_it_is_free()
    {
        var sync = _storage.Services.GetRequiredService<SqliteWalSync>();
        var batcher = _storage.Services.GetRequiredService<SqliteWriteBatcher>();
        using var disk = new SemaphoreSlim(0);
        var flushing = HoldTheDisk(sync, disk);

        Task first, second, third;
        long commits;
        try
        {
            first = SaveCardAsync("first");
            await flushing.WaitAsync(TimeSpan.FromSeconds(10));
            commits = batcher.Commits;

            // Committing these now would not make them durable any sooner: their fsync could only begin after this one.
            second = SaveCardAsync("second");
            third = SaveCardAsync("third");
            await Task.Delay(Settle);
            Assert.Equal(commits, batcher.Commits);
            Assert.False(second.IsCompleted || third.IsCompleted);
        }
        finally
        {
            disk.Release(100);
        }

        await Task.WhenAll(first, second, third).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(commits + 1, batcher.Commits); // both in the one batch committed when the disk was free
    }

    [Fact]
    public async Task After_an_fsync_fails_nothing_is_handed_out_as_durable_and_every_later_unit_fails_too()
    {
        var sync = _storage.Services.GetRequiredService<SqliteWalSync>();
        var fail = true;
        sync.FlushToDisk = wal =>
        {
            if (Volatile.Read(ref fail))
            {
                throw new IOException("Input/output error");
            }

            RandomAccess.FlushToDisk(wal);
        };

        var error = await Assert.ThrowsAsync<SqliteException>(() => SaveCardAsync("lost"));
        Assert.Equal(10, error.SqliteErrorCode); // SQLITE_IOERR: a 503 to retry, as a failed COMMIT would be
        Assert.Contains("could not be flushed to disk", error.Message);

        // The batch is committed (other connections see it) but maybe not on disk, and a later fsync cannot vouch for
        // pages a failed one may have dropped: a read that would let it leave the process (a GET, a redelivery's
        // answer, the outbox) fails too, and so does every later unit, until a restart recovers from the disk.
        await Assert.ThrowsAsync<SqliteException>(() => sync.DurableAsync());
        Volatile.Write(ref fail, false);
        await Assert.ThrowsAsync<SqliteException>(() => SaveCardAsync("after"));
        await using var scope = _storage.Scope();
        await Assert.ThrowsAsync<SqliteException>(() => scope.ServiceProvider.GetRequiredService<ICardStore>().FindAsync("lost", CancellationToken.None));
    }

    [Fact]
    public async Task A_failed_fsync_stops_the_gateway_so_that_SQLite_recovers_from_the_disk()
    {
        var lifetime = new StoppableLifetime();
        var sync = new SqliteWalSync(NullLogger<SqliteWalSync>.Instance, lifetime) { FlushToDisk = _ => throw new IOException("Input/output error") };
        using var wal = ScratchWal();
        try
        {
            var durable = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            sync.Committed(sync.Begin(), wal, durable);

            await Assert.ThrowsAsync<SqliteException>(() => durable.Task.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.True(lifetime.Stopping);
        }
        finally
        {
            await sync.DisposeAsync();
        }
    }

    private sealed class StoppableLifetime : Microsoft.Extensions.Hosting.IHostApplicationLifetime
    {
        public bool Stopping { get; private set; }

        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication() => Stopping = true;
    }

    [Fact]
    public async Task Reads_wait_for_nothing_when_every_commit_is_on_disk()
    {
        var sync = new SqliteWalSync(NullLogger<SqliteWalSync>.Instance);
        Assert.True(sync.DurableAsync().IsCompleted);

        using var wal = ScratchWal();
        try
        {
            var number = sync.Begin();
            var fence = sync.DurableAsync();
            Assert.False(fence.IsCompleted, "a read began while a commit was on its way to the disk");
            var durable = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            sync.Committed(number, wal, durable);
            await durable.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await fence.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(1, sync.Syncs);
            Assert.True(sync.DurableAsync().IsCompleted);

            // A COMMIT that failed leaves nothing to sync; in memory (no WAL) there is no disk to wait for.
            var failed = sync.Begin();
            var afterFailure = sync.DurableAsync();
            sync.Failed(failed);
            await afterFailure.WaitAsync(TimeSpan.FromSeconds(10));
            var inMemory = new TaskCompletionSource();
            sync.Committed(sync.Begin(), null, inMemory);
            Assert.True(inMemory.Task.IsCompletedSuccessfully);
            Assert.True(sync.DurableAsync().IsCompleted);
            Assert.Equal(1, sync.Syncs);
        }
        finally
        {
            await sync.DisposeAsync();
        }
    }

    /// <summary>Every fsync waits for <paramref name="disk"/>; the task completes when the first one has begun.</summary>
    private static Task HoldTheDisk(SqliteWalSync sync, SemaphoreSlim disk)
    {
        var flushing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        sync.FlushToDisk = wal =>
        {
            flushing.TrySetResult();
            disk.Wait();
            RandomAccess.FlushToDisk(wal);
        };
        return flushing.Task;
    }

    [Fact]
    public async Task A_failed_commit_behind_an_fsync_under_way_does_not_let_reads_past_it()
    {
        var sync = new SqliteWalSync(NullLogger<SqliteWalSync>.Instance);
        using var disk = new SemaphoreSlim(0);
        var flushing = HoldTheDisk(sync, disk);
        using var wal = ScratchWal();
        try
        {
            var durable = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            sync.Committed(sync.Begin(), wal, durable);
            await flushing.WaitAsync(TimeSpan.FromSeconds(10)); // its fsync is under way, the queue empty again

            sync.Failed(sync.Begin());
            var read = sync.DurableAsync();
            await Task.Delay(Settle);
            Assert.False(read.IsCompleted, "a read passed a commit whose fsync had not returned");
            Assert.False(durable.Task.IsCompleted);

            disk.Release(10);
            await durable.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await read.WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            disk.Release(100);
            await sync.DisposeAsync();
        }
    }

    /// <summary>A file to fsync in place of a WAL, gone when its handle closes.</summary>
    private static SafeFileHandle ScratchWal() => File.OpenHandle(
        Path.Combine(Path.GetTempPath(), $"cg-walsync-{Guid.NewGuid():N}"),
        FileMode.CreateNew,
        FileAccess.ReadWrite,
        FileShare.ReadWrite | FileShare.Delete,
        FileOptions.DeleteOnClose);

    private static CardRecord Card(string id) => new() { Id = id, Kind = CardKind.Advanced, TemplateId = "t" };

    private async Task SaveCardAsync(string id)
    {
        await using var scope = _storage.Scope();
        await scope.ServiceProvider.GetRequiredService<ICardStore>().SaveAsync(Card(id), CancellationToken.None);
    }
}
