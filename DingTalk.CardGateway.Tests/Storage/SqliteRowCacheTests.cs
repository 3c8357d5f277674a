using Dapper;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>
/// SQLite's writer keeps cards and handler states in memory and writes the changed ones as the batch commits
/// (<see cref="SqliteRowCache"/>): what it keeps must be what the database would hold, through savepoints, rollbacks
/// and a batch that fails.
/// </summary>
public sealed class SqliteRowCacheTests : IAsyncLifetime
{
    private const string Counter = "test.counter";

    private readonly SqliteStorageFixture _storage = new();

    public Task InitializeAsync() => _storage.InitializeAsync();

    public Task DisposeAsync() => _storage.DisposeAsync();

    [Fact]
    public async Task Units_of_one_batch_build_on_each_others_kept_rows_and_the_commit_writes_the_last_of_them()
    {
        await SaveCardAsync("batched");
        var batcher = _storage.Services.GetRequiredService<SqliteWriteBatcher>();
        var commits = await OneBatch.SettledCommitsAsync(_storage);

        await OneBatch.RunAsync(_storage, first => CountWithAsync(first, "batched"), Enumerable.Repeat(() => CountAsync("batched", keep: true), 3));

        Assert.Equal(commits + 1, batcher.Commits);
        Assert.Equal((4, 4L), await StoredCountAsync("batched"));
        var card = await StoredCardAsync("batched");
        Assert.Equal("4", card.PublicData["count"]);
        Assert.Equal(4, card.Version);
    }

    [Fact]
    public async Task A_handler_undone_to_its_savepoint_leaves_the_kept_rows_as_they_were_before_it()
    {
        await SaveCardAsync("partly");
        await using var scope = _storage.Scope();
        var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
        await session.BeginAsync(default);
        await CountWithAsync(scope, "partly");
        await session.SavepointAsync("handler", default);
        await CountWithAsync(scope, "partly");
        await CountWithAsync(scope, "partly");
        await session.RollbackToAsync("handler", default);

        // Inside the transaction, and after it commits, as if the two undone counts never happened.
        Assert.Equal(1, (await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().GetAsync<CountState>(Counter, "partly", default))!.Count);
        Assert.Equal("1", (await scope.ServiceProvider.GetRequiredService<ICardStore>().FindAsync("partly", default))!.PublicData["count"]);
        await session.CommitAsync(default);
        Assert.Equal((1, 1L), await StoredCountAsync("partly"));
        Assert.Equal(1, (await StoredCardAsync("partly")).Version);

        await CountAsync("partly", keep: true); // the next unit starts from the kept 1
        Assert.Equal((2, 2L), await StoredCountAsync("partly"));
    }

    [Fact]
    public async Task A_unit_rolled_back_inside_a_batch_undoes_its_own_changes_and_keeps_those_of_the_unit_before_it()
    {
        await SaveCardAsync("undone");
        await OneBatch.RunAsync(_storage, _ => Task.CompletedTask, new[] { true, false, true }.Select(keep => (Func<Task>)(() => CountAsync("undone", keep))));

        // Counted, undone, counted: the third unit counted on from the first's 1, not from the undone 2.
        Assert.Equal((2, 2L), await StoredCountAsync("undone"));
        Assert.Equal("2", (await StoredCardAsync("undone")).PublicData["count"]);
    }

    [Fact]
    public async Task A_batch_that_fails_as_it_commits_fails_its_units_and_the_next_ones_read_what_the_database_has()
    {
        await SaveCardAsync("failing");
        await CountAsync("failing", keep: true);

        await using (var scope = _storage.Scope())
        {
            var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
            await session.BeginAsync(default);
            await CountWithAsync(scope, "failing");
            session.Rows!.Set("test:broken", new SqliteRowCache.Row(null, 1, (_, _) => throw new SqliteException("disk I/O error", 10)));
            var error = await Assert.ThrowsAsync<SqliteException>(() => session.CommitAsync(default).WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(10, error.SqliteErrorCode);
        }

        Assert.Equal((1, 1L), await StoredCountAsync("failing"));
        await CountAsync("failing", keep: true); // from the database's 1, not the failed batch's 2
        Assert.Equal((2, 2L), await StoredCountAsync("failing"));
        Assert.Equal("2", (await StoredCardAsync("failing")).PublicData["count"]);
    }

    [Fact]
    public async Task Changes_made_outside_a_transaction_go_through_the_kept_rows_so_the_next_unit_builds_on_them()
    {
        await SaveCardAsync("outside");
        await CountAsync("outside", keep: true); // the writer keeps the card and the counter now

        // As the typewriter stores its text: a change on its own, no transaction opened around it.
        await using (var scope = _storage.Scope())
        {
            await scope.ServiceProvider.GetRequiredService<ICardStore>().ApplyUpdateAsync(
                "outside", new CardDataChange(new Dictionary<string, string> { ["content"] = "typed" }, null, Replace: false), default);
            await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().UpdateAsync<CountState>(Counter, "outside", _ => new CountState(10), default);
        }

        await CountAsync("outside", keep: true);

        var card = await StoredCardAsync("outside");
        Assert.Equal("typed", card.PublicData["content"]);
        Assert.Equal("11", card.PublicData["count"]);
        Assert.Equal(3, card.Version);
        Assert.Equal((11, 3L), await StoredCountAsync("outside"));
    }

    [Fact]
    public async Task A_second_gateway_on_the_same_SQLite_file_stops_at_startup_with_a_message_saying_so()
    {
        var services = _storage.Services;
        var error = Assert.Throws<IOException>(() =>
            new GatewayDatabase(services.GetRequiredService<IOptions<GatewayOptions>>(), services.GetRequiredService<IHostEnvironment>()));
        Assert.Contains("in use by another gateway", error.Message, StringComparison.Ordinal);
        Assert.Contains("Postgres", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Savepoints_nest_and_a_rollback_restores_each_row_with_whether_it_still_needs_writing()
    {
        var rows = new SqliteRowCache();
        var written = new List<string>();
        SqliteRowCache.Row Dirty(string value) => new(value, 1, (_, _) => { written.Add(value); return Task.CompletedTask; });

        rows.Savepoint("unit");
        rows.Set("a", new SqliteRowCache.Row("a0", 0, null)); // read: clean
        rows.Set("b", Dirty("b1"));
        rows.Savepoint("handler");
        rows.Set("a", Dirty("a1"));
        rows.Set("b", Dirty("b2"));
        rows.Set("c", Dirty("c1"));
        Assert.Equal(3, rows.Dirty);

        rows.RollbackTo("handler");
        Assert.True(rows.TryGet("a", out var a) && (string)a.Value! == "a0" && a.Write is null);
        Assert.True(rows.TryGet("b", out var b) && (string)b.Value! == "b1" && b.Write is not null);
        Assert.False(rows.TryGet("c", out _));
        Assert.Equal(1, rows.Dirty);

        rows.Set("c", Dirty("c2"));
        rows.RollbackTo("unit");
        Assert.Equal(0, rows.Dirty);
        Assert.False(rows.TryGet("a", out _));

        rows.Savepoint("unit");
        rows.Set("d", Dirty("d1"));
        rows.Release();
        rows.RollbackTo("unit"); // a savepoint released is not known any more: nothing kept can be trusted
        Assert.Equal(0, rows.Count);
        Assert.Empty(written);
    }

    [Fact]
    public async Task A_flush_writes_each_changed_row_once_and_leaves_it_kept_and_clean()
    {
        var rows = new SqliteRowCache();
        var written = new List<string>();
        SqliteRowCache.Row Dirty(string value) => new(value, 1, (_, _) => { written.Add(value); return Task.CompletedTask; });
        rows.Set("a", Dirty("a1"));
        rows.Set("a", Dirty("a2"));
        rows.Set("b", new SqliteRowCache.Row("b0", 0, null));

        await rows.FlushAsync(null!, null!);
        await rows.FlushAsync(null!, null!);

        Assert.Equal(["a2"], written);
        Assert.True(rows.TryGet("a", out var a) && (string)a.Value! == "a2" && a.Write is null);
        Assert.Equal(2, rows.Count);
    }

    [Fact]
    public async Task A_callback_claimed_in_a_batch_is_refused_to_its_later_units_and_written_once_with_its_outcome()
    {
        var id = $"kept:{Guid.NewGuid():N}";
        var later = new List<bool>();
        var rowsBefore = await KeptRowCountAsync();
        var batcher = _storage.Services.GetRequiredService<SqliteWriteBatcher>();
        var commits = await OneBatch.SettledCommitsAsync(_storage);

        await OneBatch.RunAsync(
            _storage,
            async first =>
            {
                var callbacks = first.ServiceProvider.GetRequiredService<ICallbackStore>();
                Assert.True(await callbacks.TryAddAsync(Callback(id), default));
                await callbacks.CompleteAsync(id, CallbackOutcome.Handled, "PollHandler", """{"ok":1}""", default);
            },
            Enumerable.Repeat(async () => later.Add(await ClaimAsync(id, keep: false)), 2));

        Assert.Equal([false, false], later);
        Assert.Equal(commits + 1, batcher.Commits);
        var stored = await StoredCallbacksAsync(id);
        var only = Assert.Single(stored);
        Assert.Equal(("Handled", "PollHandler", """{"ok":1}"""), (only.Outcome, only.Handler, only.AnswerJson));
        Assert.NotNull(only.CompletedAt);
        Assert.Equal(rowsBefore, await KeptRowCountAsync()); // written, and no longer kept
    }

    [Fact]
    public async Task A_unit_rolled_back_forgets_its_claim_so_a_later_unit_of_the_batch_takes_it()
    {
        var id = $"undone:{Guid.NewGuid():N}";
        var claims = new List<bool>();

        await OneBatch.RunAsync(
            _storage,
            _ => Task.CompletedTask,
            new[] { false, true }.Select(keep => (Func<Task>)(async () => claims.Add(await ClaimAsync(id, keep)))));

        Assert.Equal([true, true], claims);
        Assert.Equal("Handled", Assert.Single(await StoredCallbacksAsync(id)).Outcome);
    }

    /// <summary>A callback's unit: claim it and, if that worked, complete it; then commit or roll back.</summary>
    private Task<bool> ClaimAsync(string callbackId, bool keep) => OneBatch.UnitAsync(
        _storage,
        async scope =>
        {
            var callbacks = scope.ServiceProvider.GetRequiredService<ICallbackStore>();
            var claimed = await callbacks.TryAddAsync(Callback(callbackId), default);
            if (claimed)
            {
                await callbacks.CompleteAsync(callbackId, CallbackOutcome.Handled, "PollHandler", """{"ok":1}""", default);
            }

            return claimed;
        },
        keep);

    /// <summary>Committed, not rolled back: the commit returns once its batch has, so none is left open for the next unit to join.</summary>
    private Task<int> KeptRowCountAsync() => OneBatch.UnitAsync(
        _storage, scope => Task.FromResult(scope.ServiceProvider.GetRequiredService<StorageSession>().Rows!.Count), keep: true);

    private async Task<List<(string Outcome, string? Handler, string? AnswerJson, long? CompletedAt)>> StoredCallbacksAsync(string callbackId)
    {
        await using var connection = await _storage.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default);
        return (await connection.QueryAsync<(string, string?, string?, long?)>(
            "SELECT outcome, handler, answer_json, completed_at FROM callbacks WHERE callback_id = @callbackId", new { callbackId })).ToList();
    }

    private static CallbackRecord Callback(string id) => new()
    {
        CallbackId = id,
        CardId = "kept-card",
        Transport = "Http",
        Type = "ActionCallback",
        UserId = "u1",
        ActionIds = [],
        ReceivedAt = DateTimeOffset.UtcNow,
    };

    /// <summary>One unit of work, as a callback's: count on the card's counter state and show it on the card.</summary>
    private Task CountAsync(string cardId, bool keep) => OneBatch.UnitAsync(
        _storage,
        async scope =>
        {
            await CountWithAsync(scope, cardId);
            return true;
        },
        keep);

    private static async Task CountWithAsync(AsyncServiceScope scope, string cardId)
    {
        var state = await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().UpdateAsync<CountState>(
            Counter, cardId, current => new CountState((current?.Count ?? 0) + 1), default);
        await scope.ServiceProvider.GetRequiredService<ICardStore>().ApplyUpdateAsync(
            cardId, new CardDataChange(new Dictionary<string, string> { ["count"] = state.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) }, null, Replace: false), default);
    }

    private async Task SaveCardAsync(string id)
    {
        await using var scope = _storage.Scope();
        await scope.ServiceProvider.GetRequiredService<ICardStore>().SaveAsync(
            new CardRecord { Id = id, Kind = CardKind.Advanced, TemplateId = "t", CreatedAt = DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch },
            default);
    }

    /// <summary>The counter and its row version, as another connection reads them from the database.</summary>
    private async Task<(int Count, long Version)> StoredCountAsync(string cardId)
    {
        await using var connection = await _storage.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default);
        var (state, version) = await connection.QuerySingleAsync<(string, long)>(
            "SELECT state, version FROM handler_state WHERE handler = @Counter AND card_id = @cardId", new { Counter, cardId });
        return (System.Text.Json.JsonSerializer.Deserialize<CountState>(state, GatewayJson.Options)!.Count, version);
    }

    private async Task<CardRecord> StoredCardAsync(string id)
    {
        await using var scope = _storage.Scope(); // outside a transaction: read from the database, not the writer's rows
        return (await scope.ServiceProvider.GetRequiredService<ICardStore>().FindAsync(id, default))!;
    }

    private sealed record CountState(int Count);
}
