using System.Text.Json;
using Dapper;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>
/// Updates for everyone that callbacks queue in one SQLite batch, merged into one outbox entry per card — where that is
/// safe — and the entry's payload written once, as the batch commits.
/// </summary>
public sealed class OutboxCoalescingTests(SqliteStorageFixture storage) : IClassFixture<SqliteStorageFixture>
{
    private const string Card = "coalesced";

    [Fact]
    public async Task Callbacks_of_one_batch_share_a_cards_entry_until_an_operators_update_or_an_undone_unit()
    {
        var batcher = storage.Services.GetRequiredService<SqliteWriteBatcher>();
        var commits = await OneBatch.SettledCommitsAsync(storage);

        // The first unit queues "a" after the others have queued behind it, in this order: all of them are one batch.
        await OneBatch.RunAsync(
            storage,
            first => first.ServiceProvider.GetRequiredService<IOutbox>().EnqueueAsync(Update("a"), afterAnswer: true, default),
            new[] { ("b", true, true), ("c", false, true), ("d", true, true), ("e", true, false), ("h", true, true) }
                .Select(u => (Func<Task>)(() => UnitAsync(u.Item1, u.Item2, u.Item3))));

        Assert.Equal(commits + 1, batcher.Commits); // one batch indeed
        // a and b share an entry; the operator's c starts a new one, so d cannot land before it; e was undone, and h,
        // queued after that, joins d's entry as it was before e merged into it.
        Assert.Equal(["a b", "c", "d h"], await EntriesAsync());
    }

    [Fact]
    public async Task A_unit_undone_to_a_savepoint_takes_back_what_it_merged_after_it()
    {
        const string Partly = "partly";
        await using var scope = storage.Scope();
        var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
        var outbox = scope.ServiceProvider.GetRequiredService<IOutbox>();
        await session.BeginAsync(default);
        await outbox.EnqueueAsync(Update("d", Partly), afterAnswer: true, default);
        await session.SavepointAsync("handler", default);
        await outbox.EnqueueAsync(Update("e", Partly), afterAnswer: true, default);
        await session.RollbackToAsync("handler", default);
        await outbox.EnqueueAsync(Update("h", Partly), afterAnswer: true, default);
        await session.CommitAsync(default);

        Assert.Equal(["d h"], await EntriesAsync(Partly)); // e's merge undone, h merged into the entry as d left it
    }

    [Fact]
    public async Task Outside_a_batch_every_update_is_an_entry_of_its_own()
    {
        const string Alone = "alone";
        await using var scope = storage.Scope();
        var ids = new[]
        {
            await scope.ServiceProvider.GetRequiredService<IOutbox>().EnqueueAsync(Update("x", Alone), afterAnswer: true, default),
            await scope.ServiceProvider.GetRequiredService<IOutbox>().EnqueueAsync(Update("y", Alone), afterAnswer: true, default),
        };

        Assert.Equal(2, ids.Distinct().Count());
        Assert.Equal(["x", "y"], await EntriesAsync(Alone));
    }

    private Task UnitAsync(string key, bool afterAnswer, bool keep) => OneBatch.UnitAsync(
        storage, scope => scope.ServiceProvider.GetRequiredService<IOutbox>().EnqueueAsync(Update(key), afterAnswer, default), keep);

    /// <summary>The card's entries in id order, each as its update's keys.</summary>
    private async Task<List<string>> EntriesAsync(string card = Card)
    {
        await using var connection = await storage.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default);
        var payloads = await connection.QueryAsync<string>("SELECT payload FROM outbox WHERE card_id = @card ORDER BY id", new { card });
        return payloads.Select(p => string.Join(' ', JsonSerializer.Deserialize<PendingCardUpdate>(p, GatewayJson.Options)!.CardData!.Keys.Order(StringComparer.Ordinal))).ToList();
    }

    private static PendingCardUpdate Update(string key, string card = Card) =>
        new(card, CardKind.Advanced, new Dictionary<string, JsonElement> { [key] = JsonSerializer.SerializeToElement(key) }, null);
}
