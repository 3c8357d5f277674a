using Dapper;
using System.Text.Json;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>
/// PostgreSQL only: what a scope's session and stores keep between statements — a pooled connection, the hints that
/// spare an update its locking read — must not outlive the transaction (or the savepoint) that made them true.
/// </summary>
public sealed class PostgresSessionTests(PostgresStorageFixture fixture) : IClassFixture<PostgresStorageFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [SkippableFact]
    public async Task A_handler_state_change_undone_to_a_savepoint_is_not_written_over_another_replicas_change()
    {
        Skip.IfNot(fixture.Available, fixture.SkipReason);
        await using var first = fixture.Scope();
        var session = first.ServiceProvider.GetRequiredService<StorageSession>();
        var states = first.ServiceProvider.GetRequiredService<IHandlerStateStore>();
        await session.BeginAsync(default);
        await session.SavepointAsync("before_handler", default);
        await states.UpdateAsync<Tally>("test", "card-undone", t => Add(t, "undone"), default);
        await session.RollbackToAsync("before_handler", default); // the handler failed: its change is gone, and so is its row lock

        // Another replica changes the state meanwhile, to the version the undone change had.
        await using (var other = fixture.Scope())
        {
            await other.ServiceProvider.GetRequiredService<IHandlerStateStore>()
                .UpdateAsync<Tally>("test", "card-undone", t => Add(t, "other"), default).WaitAsync(Patience);
        }

        await states.UpdateAsync<Tally>("test", "card-undone", t => Add(t, "later"), default).WaitAsync(Patience);
        await session.CommitAsync(default);

        await using var check = fixture.Scope();
        var final = await check.ServiceProvider.GetRequiredService<IHandlerStateStore>().GetAsync<Tally>("test", "card-undone", default);
        Assert.Equal(["other", "later"], final!.Voters);
    }

    [SkippableFact]
    public async Task A_card_change_undone_to_a_savepoint_is_not_written_over_another_replicas_change()
    {
        Skip.IfNot(fixture.Available, fixture.SkipReason);
        await using var first = fixture.Scope();
        var (session, cards) = await BeginOnANewCardAsync(first, "card-undone");
        await session.SavepointAsync("before_handler", default);
        await cards.ApplyUpdateAsync("card-undone", Set("undone"), default);
        await session.RollbackToAsync("before_handler", default);

        await using (var other = fixture.Scope())
        {
            await other.ServiceProvider.GetRequiredService<ICardStore>().ApplyUpdateAsync("card-undone", Set("other"), default).WaitAsync(Patience);
        }

        await cards.ApplyUpdateAsync("card-undone", Set("later"), default).WaitAsync(Patience);
        await session.CommitAsync(default);

        await AssertStoredCardAsync("card-undone", ["later", "other"], version: 3);
    }

    [SkippableFact]
    public async Task A_locking_read_of_a_hot_state_or_card_waits_in_turn_on_its_key_not_on_the_row_alone()
    {
        Skip.IfNot(fixture.Available, fixture.SkipReason);
        await SaveCardAsync("card-turn");
        await using (var create = fixture.Scope())
        {
            await create.ServiceProvider.GetRequiredService<IHandlerStateStore>().UpdateAsync<Tally>("test", "card-turn", t => Add(t, "first"), default);
        }

        // One click holds the state and the card, locked for its update, until it commits.
        await using var holder = fixture.Scope();
        var session = holder.ServiceProvider.GetRequiredService<StorageSession>();
        await session.BeginAsync(default);
        await holder.ServiceProvider.GetRequiredService<IHandlerStateStore>().UpdateAsync<Tally>("test", "card-turn", t => Add(t, "holder"), default);
        await holder.ServiceProvider.GetRequiredService<ICardStore>().ApplyUpdateAsync("card-turn", Set("holder"), default);

        // Two more want them meanwhile: each waits for the key's lock (granted in the order asked), not on the row.
        await using var stateWaiter = fixture.Scope();
        await using var cardWaiter = fixture.Scope();
        Task state = Task.CompletedTask, card = Task.CompletedTask;
        try
        {
            state = stateWaiter.ServiceProvider.GetRequiredService<IHandlerStateStore>().UpdateAsync<Tally>("test", "card-turn", t => Add(t, "next"), default);
            await Eventually.TrueAsync(async () => await WaitingOnLocksAsync("advisory") == 1, "the state's update waits for its key's lock");
            card = cardWaiter.ServiceProvider.GetRequiredService<ICardStore>().ApplyUpdateAsync("card-turn", Set("next"), default);
            await Eventually.TrueAsync(async () => await WaitingOnLocksAsync("advisory") == 2, "the card's update waits for its key's lock");
            Assert.Equal(0, await WaitingOnLocksAsync("transactionid")); // nobody waits on the holder's row locks themselves
        }
        finally
        {
            await session.CommitAsync(default); // the waiters go on, whatever was asserted, before their scopes end
            await Task.WhenAll(state, card).WaitAsync(Patience);
        }

        await using var check = fixture.Scope();
        Assert.Equal(["first", "holder", "next"], (await check.ServiceProvider.GetRequiredService<IHandlerStateStore>().GetAsync<Tally>("test", "card-turn", default))!.Voters);
        await AssertStoredCardAsync("card-turn", ["holder", "next"], version: 3);
    }

    /// <summary>
    /// A send stores a new card, under its id's lock, while an update of that id — no card when it began — waits for the
    /// lock: the update read the table before it waited, but must land on the card the send stored (the send read the
    /// updates queued for the id before this one's, so nothing else would ever put it in the stored card).
    /// </summary>
    [SkippableFact]
    public async Task An_update_waiting_for_its_ids_lock_while_a_send_stores_the_card_lands_on_that_card()
    {
        Skip.IfNot(fixture.Available, fixture.SkipReason);
        const string Id = "card-stored-while-waiting";
        await using var sending = fixture.Scope();
        var session = sending.ServiceProvider.GetRequiredService<StorageSession>();
        await session.BeginAsync(default);
        var now = DateTimeOffset.UtcNow;
        Assert.NotNull(await sending.ServiceProvider.GetRequiredService<ICardStore>().TryAddUnconfirmedAsync(
            new CardRecord { Id = Id, Kind = CardKind.Advanced, TemplateId = "tpl", PublicData = new Dictionary<string, string> { ["a"] = "sent" }, Version = 1, CreatedAt = now, UpdatedAt = now },
            default));

        await using var updating = fixture.Scope();
        var update = Task.CompletedTask;
        try
        {
            update = QueueAloneAsync(updating, Everyone(Id, "b"));
            await Eventually.TrueAsync(async () => await WaitingOnLocksAsync("advisory") == 1, "the update waits for the id's lock");
        }
        finally
        {
            await session.CommitAsync(default);
            await update.WaitAsync(Patience);
        }

        await using var check = fixture.Scope();
        var stored = (await check.ServiceProvider.GetRequiredService<ICardStore>().FindAsync(Id, default))!;
        Assert.Equal("sent", stored.PublicData["a"]);
        Assert.Equal("1", stored.PublicData.GetValueOrDefault("b")); // as DingTalk will show it: the entry reaches the card
        Assert.Equal(2, stored.Version);
    }

    /// <summary>The update queued in a transaction of its own, as an operator's <c>PUT</c> does.</summary>
    private static async Task QueueAloneAsync(AsyncServiceScope scope, PendingCardUpdate update)
    {
        var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
        await session.BeginAsync(default);
        await scope.ServiceProvider.GetRequiredService<CardUpdates>().QueueAsync(update, afterAnswer: false, default);
        await session.CommitAsync(default);
    }

    [SkippableFact]
    public async Task A_write_kept_for_the_commit_is_committed_with_the_transaction_and_undone_with_its_rollback()
    {
        Skip.IfNot(fixture.Available, fixture.SkipReason);
        foreach (var commit in new[] { true, false })
        {
            var card = commit ? "card-with-commit" : "card-rolled-back";
            await using var scope = fixture.Scope();
            var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
            await session.BeginAsync(default);
            await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().UpdateAsync<Tally>("test", card, t => Add(t, "first"), default);
            session.WriteWithCommit(
                "UPDATE handler_state SET state = @state WHERE handler = 'test' AND card_id = @card", ("state", JsonSerializer.Serialize(new Tally(["with the commit"]))), ("card", card));
            Assert.Equal(["first"], await ReadAsync(scope, card)); // not written yet
            if (commit)
            {
                await session.CommitAsync(default);
            }
            else
            {
                await session.RollbackAsync();
            }

            await using var check = fixture.Scope();
            Assert.Equal(commit ? ["with the commit"] : null, await ReadAsync(check, card));
        }

        static async Task<List<string>?> ReadAsync(AsyncServiceScope scope, string card) =>
            (await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().GetAsync<Tally>("test", card, default))?.Voters;
    }

    [SkippableFact]
    public async Task A_write_kept_for_the_commit_that_fails_fails_the_commit_and_nothing_of_the_transaction_is_kept()
    {
        Skip.IfNot(fixture.Available, fixture.SkipReason);
        await using (var scope = fixture.Scope())
        {
            var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
            await session.BeginAsync(default);
            await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().UpdateAsync<Tally>("test", "card-failed-commit", t => Add(t, "first"), default);
            session.WriteWithCommit("UPDATE handler_state SET version = NULL WHERE card_id = @card", ("card", "card-failed-commit")); // version is NOT NULL

            await Assert.ThrowsAsync<PostgresException>(() => session.CommitAsync(default));
            await session.RollbackAsync(); // as the pipeline does after a failed commit: nothing left to undo, and no error
        }

        await using var check = fixture.Scope();
        Assert.Null(await check.ServiceProvider.GetRequiredService<IHandlerStateStore>().GetAsync<Tally>("test", "card-failed-commit", default));
        var session2 = check.ServiceProvider.GetRequiredService<StorageSession>();
        await session2.BeginAsync(default); // the pooled connection is fit for the next transaction
        await check.ServiceProvider.GetRequiredService<IHandlerStateStore>().UpdateAsync<Tally>("test", "card-failed-commit", t => Add(t, "next"), default);
        await session2.CommitAsync(default);
    }

    [SkippableFact]
    public async Task A_callbacks_last_card_change_and_outbox_entry_go_with_the_commit_while_the_card_stays_locked()
    {
        Skip.IfNot(fixture.Available, fixture.SkipReason);
        await using var holder = fixture.Scope();
        var (session, cards) = await BeginOnANewCardAsync(holder, "card-last");
        await holder.ServiceProvider.GetRequiredService<CardUpdates>().QueueLastAsync(Everyone("card-last", "holder"), default);

        // Not in the database yet, even for this transaction — but the scope's store knows the card as it will be.
        Assert.Equal((1L, 0L), await StoredAsync(session, "card-last"));
        var seen = await cards.FindAsync("card-last", default);
        Assert.Equal(2, seen!.Version);
        Assert.Equal(["holder"], seen.PublicData.Keys);
        await Assert.ThrowsAsync<InvalidOperationException>(() => cards.ApplyUpdateAsync("card-last", Set("after the last"), default));

        // The card stays locked until the commit: another replica's change waits for it, then lands on top of it.
        await using var other = fixture.Scope();
        Task next = Task.CompletedTask;
        try
        {
            next = other.ServiceProvider.GetRequiredService<ICardStore>().ApplyUpdateAsync("card-last", Set("next"), default);
            await Eventually.TrueAsync(async () => await WaitingOnLocksAsync() == 1, "the other change waits for the card's lock");
        }
        finally
        {
            await session.CommitAsync(default);
            await next.WaitAsync(Patience);
        }

        await using var check = fixture.Scope();
        var checkSession = check.ServiceProvider.GetRequiredService<StorageSession>();
        Assert.Equal((3L, 1L), await StoredAsync(checkSession, "card-last"));
        await AssertStoredCardAsync("card-last", ["holder", "next"], version: 3);
        var entry = Assert.Single(await check.ServiceProvider.GetRequiredService<IOutbox>().UnsentForCardAsync("card-last", default));
        Assert.Equal(OutboxStatus.Pending, entry.Status);
    }

    [SkippableFact]
    public async Task A_callbacks_last_card_change_rolled_back_leaves_neither_the_card_nor_an_outbox_entry()
    {
        Skip.IfNot(fixture.Available, fixture.SkipReason);
        await SaveCardAsync("card-last-undone");
        await using (var scope = fixture.Scope())
        {
            var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
            await session.BeginAsync(default);
            await scope.ServiceProvider.GetRequiredService<CardUpdates>().QueueLastAsync(Everyone("card-last-undone", "undone"), default);
            await session.RollbackAsync();
        }

        await using var check = fixture.Scope();
        Assert.Equal((1L, 0L), await StoredAsync(check.ServiceProvider.GetRequiredService<StorageSession>(), "card-last-undone"));
        var session2 = check.ServiceProvider.GetRequiredService<StorageSession>();
        await session2.BeginAsync(default); // the connection is fit for the next transaction, and the card for its next change
        await check.ServiceProvider.GetRequiredService<CardUpdates>().QueueLastAsync(Everyone("card-last-undone", "later"), default);
        await session2.CommitAsync(default);
        Assert.Equal((2L, 1L), await StoredAsync(session2, "card-last-undone"));
    }

    [SkippableFact]
    public async Task A_locked_states_change_goes_with_the_commit_and_one_undone_to_its_savepoint_is_dropped()
    {
        Skip.IfNot(fixture.Available, fixture.SkipReason);
        await using var scope = fixture.Scope();
        var (session, states) = await BeginWithAKeptChangeAsync(scope, "card-kept"); // the row is locked; its write goes with the commit
        Assert.Equal(["first", "before"], (await states.GetAsync<Tally>("test", "card-kept", default))!.Voters);

        await session.SavepointAsync("before_handler", default);
        await states.UpdateAsync<Tally>("test", "card-kept", t => Add(t, "undone"), default);
        Assert.Equal(["first", "before", "undone"], (await states.GetAsync<Tally>("test", "card-kept", default))!.Voters);
        await session.RollbackToAsync("before_handler", default); // the handler failed: its change goes, the one before it stays
        Assert.Equal(["first", "before"], await StoredStateAsync(session, "card-kept"));

        await states.UpdateAsync<Tally>("test", "card-kept", t => Add(t, "after"), default);
        await session.CommitAsync(default);

        await using var check = fixture.Scope();
        Assert.Equal(["first", "before", "after"], await StoredStateAsync(check.ServiceProvider.GetRequiredService<StorageSession>(), "card-kept"));
    }

    [SkippableFact]
    public async Task A_locked_states_change_kept_before_a_savepoint_survives_a_second_rollback_to_it()
    {
        Skip.IfNot(fixture.Available, fixture.SkipReason);
        await using var scope = fixture.Scope();
        var (session, states) = await BeginWithAKeptChangeAsync(scope, "card-kept-twice");
        await session.SavepointAsync("handler", default);
        await states.UpdateAsync<Tally>("test", "card-kept-twice", t => Add(t, "first try"), default);
        await session.RollbackToAsync("handler", default);
        Assert.Equal(["first", "before"], (await states.GetAsync<Tally>("test", "card-kept-twice", default))!.Voters);

        await states.UpdateAsync<Tally>("test", "card-kept-twice", t => Add(t, "second try"), default);
        await session.RollbackToAsync("handler", default); // undoes the second try, never what came before the savepoint
        Assert.Equal(["first", "before"], (await states.GetAsync<Tally>("test", "card-kept-twice", default))!.Voters);

        await session.CommitAsync(default);
        await using var check = fixture.Scope();
        Assert.Equal(["first", "before"], await StoredStateAsync(check.ServiceProvider.GetRequiredService<StorageSession>(), "card-kept-twice"));
    }

    [SkippableFact]
    public async Task A_locked_states_change_kept_before_a_savepoint_survives_a_rollback_to_it_after_one_to_a_later_savepoint()
    {
        Skip.IfNot(fixture.Available, fixture.SkipReason);
        await using var scope = fixture.Scope();
        var (session, states) = await BeginWithAKeptChangeAsync(scope, "card-kept-nested");
        await session.SavepointAsync("handler", default);
        await states.UpdateAsync<Tally>("test", "card-kept-nested", t => Add(t, "handler"), default);
        await session.SavepointAsync("step", default);
        await states.UpdateAsync<Tally>("test", "card-kept-nested", t => Add(t, "step"), default);

        await session.RollbackToAsync("step", default);
        Assert.Equal(["first", "before", "handler"], (await states.GetAsync<Tally>("test", "card-kept-nested", default))!.Voters);
        await session.RollbackToAsync("handler", default);
        Assert.Equal(["first", "before"], (await states.GetAsync<Tally>("test", "card-kept-nested", default))!.Voters);

        await states.UpdateAsync<Tally>("test", "card-kept-nested", t => Add(t, "after"), default);
        await session.CommitAsync(default);
        await using var check = fixture.Scope();
        Assert.Equal(["first", "before", "after"], await StoredStateAsync(check.ServiceProvider.GetRequiredService<StorageSession>(), "card-kept-nested"));
    }

    /// <summary>The test handler's state "first"; then, in a transaction <paramref name="scope"/> opens, "first", "before" — a change kept for the commit.</summary>
    private async Task<(StorageSession Session, IHandlerStateStore States)> BeginWithAKeptChangeAsync(AsyncServiceScope scope, string cardId)
    {
        await using (var create = fixture.Scope())
        {
            await create.ServiceProvider.GetRequiredService<IHandlerStateStore>().UpdateAsync<Tally>("test", cardId, t => Add(t, "first"), default);
        }

        var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
        var states = scope.ServiceProvider.GetRequiredService<IHandlerStateStore>();
        await session.BeginAsync(default);
        await states.UpdateAsync<Tally>("test", cardId, t => Add(t, "before"), default);
        Assert.Equal(["first"], await StoredStateAsync(session, cardId)); // kept for the commit, not written yet
        return (session, states);
    }

    /// <summary>The test handler's state as the database has it (in the open transaction, if any).</summary>
    private static async Task<List<string>?> StoredStateAsync(StorageSession session, string cardId)
    {
        var json = await session.ReadAsync(
            (connection, transaction) => connection.ExecuteScalarAsync<string?>(
                "SELECT state FROM handler_state WHERE handler = 'test' AND card_id = @cardId", new { cardId }, transaction),
            default);
        return json is null ? null : JsonSerializer.Deserialize<Tally>(json, JsonSerializerOptions.Web)!.Voters;
    }

    [SkippableFact]
    public async Task A_card_saved_after_its_change_in_the_same_transaction_reads_as_saved_and_none_is_saved_after_the_last_change()
    {
        Skip.IfNot(fixture.Available, fixture.SkipReason);
        await using var scope = fixture.Scope();
        var (session, cards) = await BeginOnANewCardAsync(scope, "card-saved-again");
        var changed = await cards.ApplyUpdateAsync("card-saved-again", Set("changed"), default); // locked: the store keeps it as a hint
        await cards.SaveAsync(changed! with { PublicData = new Dictionary<string, string> { ["saved"] = "1" }, Version = 7 }, default);
        var read = await cards.FindAsync("card-saved-again", default);
        Assert.Equal(7, read!.Version);
        Assert.Equal(["saved"], read.PublicData.Keys);

        await cards.ApplyLastUpdateAsync("card-saved-again", Set("last"), default);
        await Assert.ThrowsAsync<InvalidOperationException>(() => cards.SaveAsync(read, default));
        await session.RollbackAsync();
    }

    /// <summary>The card's version and how many outbox entries it has, as the database has them (in the open transaction, if any).</summary>
    private static Task<(long Version, long Entries)> StoredAsync(StorageSession session, string id) =>
        session.ReadAsync(
            async (connection, transaction) => (
                await connection.ExecuteScalarAsync<long>("SELECT version FROM cards WHERE id = @id", new { id }, transaction),
                await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM outbox WHERE card_id = @id", new { id }, transaction)),
            default);

    /// <summary>A callback's update for everyone that sets <paramref name="key"/> on an advanced card.</summary>
    private static PendingCardUpdate Everyone(string cardId, string key) =>
        new(cardId, CardKind.Advanced, new Dictionary<string, JsonElement> { [key] = JsonSerializer.SerializeToElement("1") }, PrivateData: null);

    /// <summary>Locks that sessions of this test's database wait for: of <paramref name="lockType"/> (<c>pg_locks.locktype</c>), or any.</summary>
    private async Task<long> WaitingOnLocksAsync(string? lockType = null)
    {
        await using var connection = new NpgsqlConnection(fixture.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND (l.locktype = @type OR @type IS NULL) AND a.datname = current_database()",
            connection);
        command.Parameters.Add(new NpgsqlParameter<string?>("type", lockType) { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>A card saved at version 1 (<see cref="SaveCardAsync"/>), then a transaction <paramref name="scope"/> opens.</summary>
    private async Task<(StorageSession Session, ICardStore Cards)> BeginOnANewCardAsync(AsyncServiceScope scope, string cardId)
    {
        await SaveCardAsync(cardId);
        var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
        await session.BeginAsync(default);
        return (session, scope.ServiceProvider.GetRequiredService<ICardStore>());
    }

    /// <summary>The card as a new scope finds it: these public keys, this version.</summary>
    private async Task AssertStoredCardAsync(string id, string[] keys, long version)
    {
        await using var check = fixture.Scope();
        var stored = await check.ServiceProvider.GetRequiredService<ICardStore>().FindAsync(id, default);
        Assert.Equal(keys, stored!.PublicData.Keys.Order());
        Assert.Equal(version, stored.Version);
    }

    /// <summary>
    /// <c>GET /api/handlers</c>' unhandled groups and each group's example are read in one statement, from one snapshot: a
    /// retention purge that deletes the example right after the groups are read (here, as the first statement of the read
    /// ends: Npgsql's trace of it, seen only in this test's flow) cannot drop its group, as a second read of the examples by
    /// id let it. PostgreSQL only: SQLite's driver says nothing between two statements; the one statement is the same there.
    /// </summary>
    [SkippableFact]
    public async Task An_unhandled_groups_example_purged_just_after_the_groups_are_read_does_not_drop_the_group()
    {
        Skip.IfNot(fixture.Available, fixture.SkipReason);
        var since = new DateTimeOffset(2093, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(Random.Shared.Next(1_000_000));
        var card = $"card-purged-{Guid.NewGuid():N}";
        // The latest click has the greatest id too: the example whichever way it is chosen.
        CallbackRecord[] clicks = [Click(0, "a"), Click(1, "b")];
        await using (var write = fixture.Scope())
        {
            var session = write.ServiceProvider.GetRequiredService<StorageSession>();
            await session.BeginAsync(default);
            foreach (var click in clicks)
            {
                Assert.True(await write.ServiceProvider.GetRequiredService<ICallbackStore>().TryAddAsync(click, default));
            }

            await session.CommitAsync(default);
        }

        var reading = new AsyncLocal<bool>();
        var purged = 0;
        var connectionString = fixture.Services.GetRequiredService<GatewayDatabase>().ConnectionString;
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) =>
                reading.Value ? System.Diagnostics.ActivitySamplingResult.AllData : System.Diagnostics.ActivitySamplingResult.None,
            ActivityStopped = _ =>
            {
                if (reading.Value && Interlocked.Exchange(ref purged, 1) == 0)
                {
                    // Retention, between the read's first statement and anything after it.
                    using var connection = new NpgsqlConnection(connectionString);
                    connection.Open();
                    connection.Execute("DELETE FROM callbacks WHERE callback_id = @id", new { id = clicks[1].CallbackId });
                }
            },
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        await using var read = fixture.Scope();

        reading.Value = true;
        var (groups, _) = await read.ServiceProvider.GetRequiredService<ICallbackStore>().UnhandledAsync(since, 10, default);
        reading.Value = false;

        Assert.Equal(1, purged);
        var group = Assert.Single(groups);
        Assert.Equal((2, clicks[1].CallbackId), (group.Count, group.Example.CallbackId)); // as read, with its group

        CallbackRecord Click(int ms, string id) => StoreContractTests<PostgresStorageFixture>.Callback(card) with
        {
            CallbackId = $"{card}:{id}",
            ReceivedAt = since.AddMilliseconds(ms),
            Outcome = CallbackOutcome.Unhandled,
        };
    }

    /// <summary>A card the gateway created, at version 1.</summary>
    private async Task SaveCardAsync(string id)
    {
        var now = DateTimeOffset.UtcNow;
        await using var create = fixture.Scope();
        await create.ServiceProvider.GetRequiredService<ICardStore>().SaveAsync(
            new CardRecord { Id = id, Kind = CardKind.Advanced, TemplateId = "tpl", Version = 1, CreatedAt = now, UpdatedAt = now }, default);
    }

    private static Tally Add(Tally? tally, string voter) => new([.. tally?.Voters ?? [], voter]);

    private static CardDataChange Set(string key) => new(new Dictionary<string, string> { [key] = "1" }, null, Replace: false);

    public sealed record Tally(List<string> Voters);
}

/// <summary>
/// A pool of one connection: a session that keeps its connection after its transaction ended, then reads committed
/// state on a connection of its own (a redelivery looking for the first delivery's answer, an operator's update
/// waiting for its outbox entry), waits on itself — with a pool of N, N such calls stall the replica until the pool's
/// timeout and then fail.
/// </summary>
public sealed class PostgresSessionConnectionTests(PostgresSessionConnectionTests.OneConnectionFixture fixture)
    : IClassFixture<PostgresSessionConnectionTests.OneConnectionFixture>
{
    [SkippableFact]
    public async Task A_redelivery_refused_its_claim_reads_the_first_answer_without_holding_a_second_connection()
    {
        Skip.IfNot(fixture.Available, fixture.SkipReason);
        var callback = StoreContractTests<OneConnectionFixture>.Callback("card-pool-redelivered");
        await using (var first = fixture.Scope())
        {
            var session = first.ServiceProvider.GetRequiredService<StorageSession>();
            await session.BeginAsync(default);
            Assert.True(await first.ServiceProvider.GetRequiredService<ICallbackStore>().TryAddAsync(callback, default));
            await first.ServiceProvider.GetRequiredService<ICallbackStore>().CompleteAsync(callback.CallbackId, CallbackOutcome.Handled, "PollHandler", """{"mine":1}""", default);
            await session.CommitAsync(default);
        }

        // As CallbackPipeline does for a redelivery: claim, refused, roll back, look the first answer up.
        await using var again = fixture.Scope();
        var againSession = again.ServiceProvider.GetRequiredService<StorageSession>();
        var callbacks = again.ServiceProvider.GetRequiredService<ICallbackStore>();
        await againSession.BeginAsync(default);
        Assert.False(await callbacks.TryAddAsync(callback, default));
        await againSession.RollbackAsync();

        var record = await callbacks.FindAsync(callback.CallbackId, TimeSpan.Zero, default);
        Assert.Equal("""{"mine":1}""", record!.AnswerJson);
    }

    [SkippableFact]
    public async Task An_operators_update_waits_for_its_outbox_entry_without_holding_a_second_connection()
    {
        Skip.IfNot(fixture.Available, fixture.SkipReason);
        await using var scope = fixture.Scope();
        var services = scope.ServiceProvider;
        var update = new PendingCardUpdate("card-pool-put", CardKind.Advanced, new Dictionary<string, JsonElement> { ["total"] = JsonSerializer.SerializeToElement(1) }, null);

        // As PUT /api/cards/{id} does: queue in a transaction, commit, then wait for the entry (no dispatcher here: it stays pending).
        var session = services.GetRequiredService<StorageSession>();
        await session.BeginAsync(default);
        var id = await services.GetRequiredService<CardUpdates>().QueueAsync(update, afterAnswer: false, default);
        await session.CommitAsync(default);

        var entry = await services.GetRequiredService<IOutbox>().FindAsync(id, default);
        Assert.Equal(OutboxStatus.Pending, entry!.Status);
    }

    public sealed class OneConnectionFixture : StorageFixture
    {
        public override string Provider => DingTalk.CardGateway.Hosting.StorageOptions.Postgres;

        protected override async Task<string?> CreateDatabaseAsync() =>
            await PostgresServer.CreateDatabaseAsync() is { } connectionString
                ? new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = 1, Timeout = 3 }.ToString()
                : null;

        protected override Task DropDatabaseAsync(string? connectionString) => PostgresServer.DropDatabaseAsync(connectionString);
    }
}
