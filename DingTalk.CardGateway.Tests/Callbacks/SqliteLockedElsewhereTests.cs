using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Data.Sqlite;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// Another process holding SQLite's write lock (an operator's <c>sqlite3</c> left in a transaction, a backup or replication
/// tool taking its turn) must not hold up a click's answer past its budget: SQLite waits for the lock by sleeping its
/// thread, and a click whose own thread slept there had no answer until the lock was let go — 18 s for a lock held 20 s.
/// </summary>
public sealed class SqliteLockedElsewhereTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"cg-locked-{Guid.NewGuid():N}.db");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        SqliteFiles.Delete(_database);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_vote_while_another_process_holds_the_write_lock_is_answered_at_its_budget_and_counted_once_the_lock_is_let_go()
    {
        await CallbackGateway.RunAsync(
            new Dictionary<string, string?>
            {
                ["Gateway:Storage:Provider"] = "Sqlite",
                ["Gateway:Storage:ConnectionString"] = $"Data Source={_database}",
                ["Gateway:Callbacks:HandlerBudget"] = "00:00:00.200",
            },
            async gateway =>
            {
                var card = await gateway.SendCardAsync("tpl.poll");
                await using var elsewhere = new SqliteConnection($"Data Source={_database};Pooling=False");
                await elsewhere.OpenAsync();
                await using var locked = elsewhere.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: the write lock

                var vote = gateway.ClickAsync(card, "u1", new { action = "vote", option = "A" });
                // Let go of the lock once the answer is in, or after 5 s at most (when the answer waits for the lock).
                await Task.WhenAny(vote, Task.Delay(TimeSpan.FromSeconds(5)));
                locked.Rollback();

                Assert.Equal("{}", (await vote.WaitAsync(Patience)).GetRawText()); // at the budget, not the vote's own answer once the lock is gone
                await Eventually.TrueAsync(async () => (await gateway.HistoryAsync(card)) is [{ Outcome: CallbackOutcome.Overran }], "the vote handled once the lock was let go, as one answered early");
                await Eventually.TrueAsync(
                    () => gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("total") == "1",
                    "everyone's card counting the vote");
                Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3111);
                Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 4304); // whose the wait was
            });
    }
}
