using System.Text.Json;
using Dapper;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>What every storage provider must do; run once per provider against a real database.</summary>
public abstract class StoreContractTests<TFixture>(TFixture fixture)
    where TFixture : StorageFixture
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(15);

    [SkippableFact]
    public async Task A_callback_id_is_claimed_once()
    {
        SkipWithoutDatabase();
        await using var scope = fixture.Scope();
        var callbacks = scope.ServiceProvider.GetRequiredService<ICallbackStore>();
        var callback = Callback("card-dedupe");

        Assert.True(await callbacks.TryAddAsync(callback, default));
        Assert.False(await callbacks.TryAddAsync(callback, default));

        await callbacks.CompleteAsync(callback.CallbackId, CallbackOutcome.Handled, "PollHandler", """{"a":1}""", default);
        var stored = await callbacks.FindAsync(callback.CallbackId, TimeSpan.Zero, default);
        Assert.Equal(CallbackOutcome.Handled, stored!.Outcome);
        Assert.Equal("""{"a":1}""", stored.AnswerJson);
        Assert.Equal(["btn"], stored.ActionIds);
        Assert.Equal("A", stored.Params!.Value.GetProperty("option").GetString());
        Assert.True(stored.DurationMs >= 0);
        Assert.Single(await callbacks.ForCardAsync("card-dedupe", default));
    }

    [SkippableFact]
    public async Task Concurrent_state_changes_lose_nothing()
    {
        SkipWithoutDatabase();

        await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            await using var scope = fixture.Scope();
            var state = scope.ServiceProvider.GetRequiredService<IHandlerStateStore>();
            await state.UpdateAsync<Tally>("test", "card-race", t => new Tally((t?.Voters ?? []).Append($"u{i}").ToList()), default);
        }));

        await using var reader = fixture.Scope();
        var final = await reader.ServiceProvider.GetRequiredService<IHandlerStateStore>().GetAsync<Tally>("test", "card-race", default);
        Assert.Equal(40, final!.Voters.Distinct().Count());
    }

    [SkippableFact]
    public async Task A_rolled_back_session_leaves_no_trace()
    {
        SkipWithoutDatabase();
        await using (var scope = fixture.Scope())
        {
            var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
            await session.BeginAsync(default);
            await scope.ServiceProvider.GetRequiredService<ICallbackStore>().TryAddAsync(Callback("card-rollback"), default);
            await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().UpdateAsync<Tally>("test", "card-rollback", _ => new Tally(["u1"]), default);
            await scope.ServiceProvider.GetRequiredService<IOutbox>().EnqueueAsync(Update("card-rollback", 1), afterAnswer: true, default);
            await session.RollbackAsync();
        }

        await using var check = fixture.Scope();
        Assert.Empty(await check.ServiceProvider.GetRequiredService<ICallbackStore>().ForCardAsync("card-rollback", default));
        Assert.Null(await check.ServiceProvider.GetRequiredService<IHandlerStateStore>().GetAsync<Tally>("test", "card-rollback", default));
        Assert.Empty(await check.ServiceProvider.GetRequiredService<IOutbox>().UnsentForCardAsync("card-rollback", default));
    }

    [SkippableFact]
    public async Task A_committed_session_keeps_callback_state_and_outbox_together()
    {
        SkipWithoutDatabase();
        await using (var scope = fixture.Scope())
        {
            var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
            await session.BeginAsync(default);
            await scope.ServiceProvider.GetRequiredService<ICallbackStore>().TryAddAsync(Callback("card-commit"), default);
            await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().UpdateAsync<Tally>("test", "card-commit", _ => new Tally(["u1"]), default);
            await scope.ServiceProvider.GetRequiredService<IOutbox>().EnqueueAsync(Update("card-commit", 1), afterAnswer: true, default);
            await session.CommitAsync(default);
        }

        await using var check = fixture.Scope();
        Assert.Single(await check.ServiceProvider.GetRequiredService<ICallbackStore>().ForCardAsync("card-commit", default));
        Assert.NotNull(await check.ServiceProvider.GetRequiredService<IHandlerStateStore>().GetAsync<Tally>("test", "card-commit", default));
        var pending = Assert.Single(await check.ServiceProvider.GetRequiredService<IOutbox>().UnsentForCardAsync("card-commit", default));
        Assert.Equal(OutboxStatus.Pending, pending.Status);
    }

    [SkippableFact]
    public async Task A_database_of_the_first_schema_is_migrated_forward_at_startup()
    {
        SkipWithoutDatabase();
        var database = fixture.Services.GetRequiredService<GatewayDatabase>();
        await using (var connection = await database.OpenAsync(default))
        {
            // Back to schema 1, as a gateway of the first release left it.
            await connection.RunAsync(null, "DROP TABLE answered_early", default);
            await connection.RunAsync(null, "DROP TABLE outbound_pace", default);
            await connection.RunAsync(null, "DROP TABLE typing_leases", default);
            await connection.RunAsync(null, "DROP TABLE effects", default);
            await connection.RunAsync(null, "DROP TABLE schema_floor", default);
            await connection.RunAsync(null, "ALTER TABLE callbacks DROP COLUMN params", default);
            await connection.RunAsync(null, "ALTER TABLE cards DROP COLUMN creation_confirmed", default);
            await connection.RunAsync(null, "ALTER TABLE outbox DROP COLUMN last_error_scopes", default);
            await connection.RunAsync(null, "ALTER TABLE outbox DROP COLUMN resolved_at", default);
            await connection.RunAsync(null, "ALTER TABLE outbox DROP COLUMN resolved_by", default);
            await connection.RunAsync(null, "DELETE FROM schema_migrations WHERE version > 1", default);
            await connection.RunAsync(
                null,
                "INSERT INTO cards (id, kind, template_id, public_data, private_data, version, created_at, updated_at) VALUES ('card-of-release-1', 'Advanced', 'tpl', '{}', '{}', 1, 0, 0)",
                default);
            await connection.RunAsync(
                null,
                """
                INSERT INTO outbox (card_id, kind, payload, status, attempts, created_at, available_at, last_error, last_error_status, last_error_code)
                VALUES ('card-of-release-1', 'Advanced', '{}', 'Dead', 1, 0, 0, 'DingTalk 400 param.cardNotExist: gone', 400, 'param.cardNotExist')
                """,
                default);
        }

        await ActivatorUtilities.CreateInstance<SchemaMigrator>(fixture.Services).StartAsync(default); // a new process: the fixture's migrator has run

        await using var scope = fixture.Scope();
        var callbacks = scope.ServiceProvider.GetRequiredService<ICallbackStore>();
        var callback = Callback("card-migrated");
        Assert.True(await callbacks.TryAddAsync(callback, default));
        var stored = await callbacks.FindAsync(callback.CallbackId, TimeSpan.Zero, default);
        Assert.Equal("vote", stored!.Params!.Value.GetProperty("action").GetString());
        Assert.True((await scope.ServiceProvider.GetRequiredService<ICardStore>().FindAsync("card-of-release-1", default))!.CreationConfirmed); // stored after its creation then
        Assert.NotNull(await Replica(new FakeTimeProvider(T0)).TryTakeAsync("card-migrated", TimeSpan.FromSeconds(15), default));
        var deadLetter = Assert.Single(await scope.ServiceProvider.GetRequiredService<IOutbox>().UnsentForCardAsync("card-of-release-1", default));
        Assert.Equal("param.cardNotExist", deadLetter.LastErrorCode); // a dead letter of then keeps its error, and names no scope
        Assert.Null(deadLetter.RequiredScopes);
        Assert.Equal((OutboxStatus.Dead, null, null), (deadLetter.Status, deadLetter.ResolvedAt, deadLetter.ResolvedBy)); // still dead: nothing put it right
        await using var check = await database.OpenAsync(default);
        Assert.Equal(Schema.Migrations(database.Dialect).Count, await check.ScalarAsync<long?>(null, "SELECT MAX(version) FROM schema_migrations", default));
    }

    /// <summary>
    /// A rolling deployment, or a rollback: a newer build migrated the database one version further with a migration that
    /// only adds (a nullable column), and this build starts on it. It runs, saying so with both versions, and its stores
    /// work beside the column it does not know.
    /// </summary>
    [SkippableFact]
    public async Task A_database_a_newer_build_migrated_with_an_addition_is_used_with_a_warning_naming_both_versions()
    {
        SkipWithoutDatabase();
        var database = fixture.Services.GetRequiredService<GatewayDatabase>();
        var (ours, newer) = (Schema.Migrations(database.Dialect).Count, NewerBuild.Version(database.Dialect));
        await NewerBuild.MigrateAsync(fixture.Services, olderBuildsMayRun: true);
        try
        {
            var log = new FakeLogger<SchemaMigrator>();
            await new SchemaMigrator(database, fixture.Services.GetRequiredService<IOptions<GatewayOptions>>(), TimeProvider.System, log).StartAsync(default);

            var warning = Assert.Single(log.Collector.GetSnapshot(), r => r.Id.Id == 4005);
            Assert.Equal(LogLevel.Warning, warning.Level);
            Assert.Equal(
                $"{database.Dialect.Name} database is at schema version {newer}, newer than this build's {ours}: migrations {newer}..{newer} were applied by a newer build, which left it usable by builds of schema version 1 or later; running on it (a rolling deployment, or a rollback)",
                warning.Message);
            Assert.Equal($"{database.Dialect.Name} storage ready at schema version {newer}", Assert.Single(log.Collector.GetSnapshot(), r => r.Id.Id == 4002).Message);
            Assert.DoesNotContain(log.Collector.GetSnapshot(), r => r.Id.Id == 4001); // nothing migrated back or again

            await using var scope = fixture.Scope();
            var callbacks = scope.ServiceProvider.GetRequiredService<ICallbackStore>();
            var callback = Callback("card-beside-a-newer-column");
            Assert.True(await callbacks.TryAddAsync(callback, default));
            await callbacks.CompleteAsync(callback.CallbackId, CallbackOutcome.Handled, "PollHandler", "{}", default);
            Assert.Equal(CallbackOutcome.Handled, (await callbacks.FindAsync(callback.CallbackId, TimeSpan.Zero, default))!.Outcome);
            await using var check = await database.OpenAsync(default);
            Assert.Equal(newer, await check.ScalarAsync<long?>(null, "SELECT MAX(version) FROM schema_migrations", default));
        }
        finally
        {
            await NewerBuild.UndoAsync(database);
        }
    }

    /// <summary>
    /// A newer build applied a migration it declared builds before it cannot live with (a column they write dropped, say):
    /// this build refuses the database before it writes anything, naming the version it would need. What an operator sees
    /// of it (exit code 1, one line) is <c>StartupValidationTests</c>'.
    /// </summary>
    [SkippableFact]
    public async Task A_database_a_newer_build_migrated_past_a_change_older_builds_cannot_live_with_is_refused_naming_the_version_needed()
    {
        SkipWithoutDatabase();
        var database = fixture.Services.GetRequiredService<GatewayDatabase>();
        var (ours, newer) = (Schema.Migrations(database.Dialect).Count, NewerBuild.Version(database.Dialect));
        await NewerBuild.MigrateAsync(fixture.Services, olderBuildsMayRun: false);
        try
        {
            var log = new FakeLogger<SchemaMigrator>();
            var refused = await Assert.ThrowsAsync<SchemaTooNewException>(
                () => new SchemaMigrator(database, fixture.Services.GetRequiredService<IOptions<GatewayOptions>>(), TimeProvider.System, log).StartAsync(default));

            Assert.Equal((newer, newer, ours), (refused.DatabaseVersion, refused.NeededVersion, refused.BuildVersion));
            Assert.StartsWith($"it is at schema version {newer}, migrated by a newer build, and a build must know schema version {newer} or later to use it; this build knows versions up to {ours}.", refused.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(log.Collector.GetSnapshot(), r => r.Id.Id is 4002 or 4005); // never said ready
        }
        finally
        {
            await NewerBuild.UndoAsync(database);
        }
    }

    /// <summary>Every migration this build ships only adds: a database it migrated may be used by any build of this schema line.</summary>
    [SkippableFact]
    public async Task A_database_this_build_migrated_is_usable_by_builds_of_any_earlier_schema_version()
    {
        SkipWithoutDatabase();
        var database = fixture.Services.GetRequiredService<GatewayDatabase>();

        await using var connection = await database.OpenAsync(default);

        Assert.Equal(1, await connection.ScalarAsync<long?>(null, "SELECT min_build_version FROM schema_floor WHERE id = 1", default));
        Assert.All(Schema.Migrations(database.Dialect), m => Assert.True(m.OlderBuildsMayRun, m.Sql));
    }

    [SkippableFact]
    public async Task Dismissing_an_ids_dead_letters_takes_them_off_its_undelivered_list_and_leaves_its_pending_ones_and_other_ids_alone()
    {
        SkipWithoutDatabase();
        var (card, other) = ($"dismiss-{Guid.NewGuid():N}", $"dismiss-{Guid.NewGuid():N}");
        var ids = new List<long>();
        await using (var scope = fixture.Scope())
        {
            var outbox = scope.ServiceProvider.GetRequiredService<IOutbox>();
            foreach (var id in new[] { card, card, card, other })
            {
                ids.Add(await outbox.EnqueueAsync(Update(id, 1), afterAnswer: false, default));
            }
        }

        var database = fixture.Services.GetRequiredService<GatewayDatabase>();
        await using (var connection = await database.OpenAsync(default))
        {
            await connection.ExecuteAsync("UPDATE outbox SET status = 'Dead' WHERE id IN (@a, @b, @c)", new { a = ids[0], b = ids[2], c = ids[3] });
        }

        await using (var scope = fixture.Scope())
        {
            var outbox = scope.ServiceProvider.GetRequiredService<IOutbox>();
            Assert.Equal(2, await outbox.DismissDeadAsync(card, default));
            Assert.Equal(0, await outbox.DismissDeadAsync(card, default));

            Assert.Equal([ids[1]], (await outbox.UnsentForCardAsync(card, default)).Select(e => e.Id));
            var dismissed = (await outbox.FindAsync(ids[0], default))!;
            Assert.Equal(OutboxStatus.Dismissed, dismissed.Status);
            Assert.NotNull(dismissed.ResolvedAt);
            Assert.Null(dismissed.ResolvedBy); // no resend put it right
            Assert.Equal(OutboxStatus.Dead, (await outbox.FindAsync(ids[3], default))!.Status);
        }

        // Gone again, so that the retention test's count is its own rows'.
        await using var cleanup = await database.OpenAsync(default);
        await cleanup.ExecuteAsync("DELETE FROM outbox WHERE card_id IN (@card, @other)", new { card, other });
    }

    [SkippableFact]
    public async Task The_undelivered_list_shows_the_oldest_hundred()
    {
        SkipWithoutDatabase();
        var ids = new List<long>();
        await using (var scope = fixture.Scope())
        {
            var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
            var outbox = scope.ServiceProvider.GetRequiredService<IOutbox>();
            await session.BeginAsync(default);
            for (var i = 0; i < 105; i++)
            {
                ids.Add(await outbox.EnqueueAsync(Update("card-busy", i), afterAnswer: false, default)); // an operator's: an entry each
            }

            await session.CommitAsync(default);
        }

        await using var check = fixture.Scope();
        var unsent = await check.ServiceProvider.GetRequiredService<IOutbox>().UnsentForCardAsync("card-busy", default);
        Assert.Equal(ids.Take(100), unsent.Select(e => e.Id));
    }

    [SkippableFact]
    public async Task A_card_with_a_hundred_old_dead_letters_still_shows_its_latest_refusal_and_what_is_pending()
    {
        SkipWithoutDatabase();

        // A poll whose card DingTalk lost: every vote's update was refused and dead-lettered (101 of them); DingTalk now
        // refuses the latest one too, and the next vote's update is pending.
        var ids = new List<long>();
        await using (var scope = fixture.Scope())
        {
            var outbox = scope.ServiceProvider.GetRequiredService<IOutbox>();
            for (var i = 0; i < 103; i++)
            {
                ids.Add(await outbox.EnqueueAsync(Update("card-refused-often", i), afterAnswer: false, default));
            }
        }

        await using (var connection = await fixture.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default))
        {
            await connection.ExecuteAsync(
                "UPDATE outbox SET status = 'Dead', last_error_code = 'param.cardNotExist' WHERE card_id = 'card-refused-often' AND id < @last",
                new { last = ids[^1] });
        }

        await using var check = fixture.Scope();
        var unsent = await check.ServiceProvider.GetRequiredService<IOutbox>().UnsentForCardAsync("card-refused-often", default);

        Assert.Equal(ids.Skip(2), unsent.Select(e => e.Id)); // the newest 100 dead letters, then the pending one
        Assert.Equal(OutboxStatus.Pending, unsent[^1].Status);
    }

    [SkippableFact]
    public async Task A_second_delivery_while_the_first_is_uncommitted_is_refused()
    {
        SkipWithoutDatabase();
        var callback = Callback("card-twice");
        await using var first = fixture.Scope();
        var firstSession = first.ServiceProvider.GetRequiredService<StorageSession>();
        await firstSession.BeginAsync(default);
        Assert.True(await first.ServiceProvider.GetRequiredService<ICallbackStore>().TryAddAsync(callback, default));

        // The same delivery on another replica's session, while the first is still uncommitted. On PostgreSQL it is refused
        // at once: the first one's handler may run long past its budget, and its redelivery must not wait for that. On
        // SQLite it waits for the one writer, then finds the first one's record.
        await using var second = fixture.Scope();
        var secondTry = Task.Run(() => second.ServiceProvider.GetRequiredService<ICallbackStore>().TryAddAsync(callback, default));
        if (fixture.Provider == StorageOptions.Postgres)
        {
            Assert.False(await secondTry.WaitAsync(TimeSpan.FromSeconds(30)));
        }

        await firstSession.CommitAsync(default);

        Assert.False(await secondTry.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [SkippableFact]
    public async Task A_redelivery_waits_for_the_first_deliverys_record_while_its_claim_is_uncommitted()
    {
        SkipWithoutDatabase();
        var callback = Callback("card-claimed");
        await using var first = fixture.Scope();
        var firstSession = first.ServiceProvider.GetRequiredService<StorageSession>();
        await firstSession.BeginAsync(default);
        var callbacks = first.ServiceProvider.GetRequiredService<ICallbackStore>();
        Assert.True(await callbacks.TryAddAsync(callback, default));
        await callbacks.CompleteAsync(callback.CallbackId, CallbackOutcome.Handled, "PollHandler", """{"mine":1}""", default);

        // A redelivery refused the id looks for the first one's answer while the first is not committed yet.
        await using var second = fixture.Scope();
        var found = Task.Run(() => second.ServiceProvider.GetRequiredService<ICallbackStore>().FindAsync(callback.CallbackId, TimeSpan.FromSeconds(30), default));
        await Task.Delay(300);
        Assert.False(found.IsCompleted, "the redelivery gave up on a claim that is only not committed yet");
        await firstSession.CommitAsync(default);

        var record = await found.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("""{"mine":1}""", record!.AnswerJson);
    }

    [SkippableFact]
    public async Task Card_updates_merge_and_bump_the_version()
    {
        SkipWithoutDatabase();
        await using var scope = fixture.Scope();
        var cards = scope.ServiceProvider.GetRequiredService<ICardStore>();
        var now = DateTimeOffset.UtcNow;
        await cards.SaveAsync(
            new CardRecord { Id = "card-upd", Kind = CardKind.Advanced, TemplateId = "tpl", PublicData = new Dictionary<string, string> { ["a"] = "1" }, Version = 1, CreatedAt = now, UpdatedAt = now },
            default);

        var updated = await cards.ApplyUpdateAsync(
            "card-upd",
            new CardDataChange(new Dictionary<string, string> { ["b"] = "2" }, new Dictionary<string, IReadOnlyDictionary<string, string>> { ["u1"] = new Dictionary<string, string> { ["myVote"] = "x" } }, Replace: false),
            default);

        Assert.Equal(2, updated!.Version);
        var stored = await cards.FindAsync("card-upd", default);
        Assert.Equal("1", stored!.PublicData["a"]);
        Assert.Equal("2", stored.PublicData["b"]);
        Assert.Equal("x", stored.PrivateData["u1"]["myVote"]);
        Assert.Null(await cards.ApplyUpdateAsync("no-such-card", new CardDataChange(null, null, false), default));
    }

    [SkippableFact]
    public async Task A_card_stored_before_its_creation_is_confirmed_without_losing_a_change_or_forgotten_only_while_unconfirmed()
    {
        SkipWithoutDatabase();
        var now = DateTimeOffset.UtcNow;
        CardRecord Unconfirmed(string id) => new()
        {
            Id = id,
            Kind = CardKind.Advanced,
            TemplateId = "tpl",
            PublicData = new Dictionary<string, string> { ["a"] = "1" },
            Version = 1,
            CreatedAt = now,
            UpdatedAt = now,
            CreationConfirmed = false,
        };
        await using (var scope = fixture.Scope())
        {
            var cards = scope.ServiceProvider.GetRequiredService<ICardStore>();
            await cards.SaveAsync(Unconfirmed("card-sent"), default);
            await cards.SaveAsync(Unconfirmed("card-refused"), default);
            Assert.False((await cards.FindAsync("card-sent", default))!.CreationConfirmed);

            // A click may land before the sender confirms: confirming keeps its change.
            await cards.ApplyUpdateAsync("card-sent", new CardDataChange(new Dictionary<string, string> { ["b"] = "2" }, null, Replace: false), default);
            await cards.ConfirmCreationAsync(Unconfirmed("card-sent"), default);
            await cards.ForgetUnconfirmedAsync("card-sent", default); // confirmed: kept
            await cards.ForgetUnconfirmedAsync("card-refused", default);
        }

        await using var check = fixture.Scope();
        var stored = await check.ServiceProvider.GetRequiredService<ICardStore>().FindAsync("card-sent", default);
        Assert.True(stored!.CreationConfirmed);
        Assert.Equal(2, stored.Version);
        Assert.Equal("2", stored.PublicData["b"]);
        Assert.Null(await check.ServiceProvider.GetRequiredService<ICardStore>().FindAsync("card-refused", default));
    }

    /// <summary>An advanced card about to be sent (unconfirmed), its public <c>a</c> set to <paramref name="a"/>.</summary>
    private static CardRecord AdvancedCard(string id, string a)
    {
        var now = DateTimeOffset.UtcNow;
        return new CardRecord
        {
            Id = id,
            Kind = CardKind.Advanced,
            TemplateId = "tpl",
            PublicData = new Dictionary<string, string> { ["a"] = a },
            Version = 1,
            CreatedAt = now,
            UpdatedAt = now,
            CreationConfirmed = false,
        };
    }

    /// <summary>
    /// Two sends of one new id at once: the first to store its card keeps it; the second is told so and changes nothing,
    /// in its own transaction and in a transaction's batch alike.
    /// </summary>
    [SkippableFact]
    public async Task A_card_added_unconfirmed_under_an_id_stored_already_is_refused_and_changes_nothing()
    {
        SkipWithoutDatabase();
        var first = AdvancedCard("card-added-twice", "first") with { CreationConfirmed = true };
        await using (var scope = fixture.Scope())
        {
            var cards = scope.ServiceProvider.GetRequiredService<ICardStore>();
            Assert.NotNull(await cards.TryAddUnconfirmedAsync(first, default));
            Assert.Null(await cards.TryAddUnconfirmedAsync(first with { PublicData = new Dictionary<string, string> { ["a"] = "second" } }, default));
        }

        await using (var scope = fixture.Scope())
        {
            var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
            await session.BeginAsync(default);
            Assert.Null(await scope.ServiceProvider.GetRequiredService<ICardStore>().TryAddUnconfirmedAsync(first with { Version = 7 }, default));
            await session.CommitAsync(default);
        }

        await using var check = fixture.Scope();
        var stored = await check.ServiceProvider.GetRequiredService<ICardStore>().FindAsync(first.Id, default);
        Assert.Equal("first", stored!.PublicData["a"]);
        Assert.Equal(1, stored.Version);
        Assert.False(stored.CreationConfirmed); // stored as about to be sent, whatever the record said
    }

    /// <summary>
    /// Updates queued for an id before it had a card reach the card DingTalk creates under it, so the card added is stored
    /// with them, in order: an entry later callbacks of the same group commit merged into as it is now, not as first
    /// written. An update of the other kind (another card at DingTalk) and a refresh (no values) change nothing.
    /// </summary>
    [SkippableFact]
    public async Task A_card_added_unconfirmed_is_stored_with_the_updates_queued_for_its_id_before()
    {
        SkipWithoutDatabase();
        const string Id = "card-added-after-updates";
        await using var scope = fixture.Scope();
        var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
        var outbox = scope.ServiceProvider.GetRequiredService<IOutbox>();
        await session.BeginAsync(default);
        await outbox.EnqueueAsync(Values(Id, CardKind.Advanced, ("a", "1"), ("b", "1")), afterAnswer: true, default);
        await outbox.EnqueueAsync(Values(Id, CardKind.Advanced, ("b", "2")), afterAnswer: true, default);
        await outbox.EnqueueAsync(Values(Id, CardKind.Robot, ("title", "robot")), afterAnswer: false, default);
        await outbox.EnqueueAsync(PendingCardUpdate.RefreshOf(Id, CardKind.Advanced), afterAnswer: false, default);
        await outbox.EnqueueAsync(Values(Id, CardKind.Advanced, ("c", "3")) with { PrivateData = new Dictionary<string, IReadOnlyDictionary<string, JsonElement>> { ["u1"] = new Dictionary<string, JsonElement> { ["seen"] = JsonSerializer.SerializeToElement("yes") } } }, afterAnswer: false, default);

        var added = await scope.ServiceProvider.GetRequiredService<ICardStore>().TryAddUnconfirmedAsync(AdvancedCard(Id, "sent") with { PublicData = new Dictionary<string, string> { ["a"] = "sent", ["d"] = "sent" } }, default);
        await session.CommitAsync(default);

        await using var check = fixture.Scope();
        var stored = (await check.ServiceProvider.GetRequiredService<ICardStore>().FindAsync(Id, default))!;
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "2", ["c"] = "3", ["d"] = "sent" }, stored.PublicData);
        Assert.Equal(stored.PublicData, added!.PublicData); // what the send creates the card from
        Assert.Equal("yes", stored.PrivateData["u1"]["seen"]);
        Assert.Equal("yes", added.PrivateData["u1"]["seen"]);
        Assert.Equal(added.Version, stored.Version);
        Assert.True(stored.Version > 1); // changed since the send's record: the send is then of the card as stored
        Assert.False(stored.CreationConfirmed);
    }

    private static PendingCardUpdate Values(string id, CardKind kind, params (string Key, string Value)[] values) =>
        new(id, kind, values.ToDictionary(v => v.Key, v => JsonSerializer.SerializeToElement(v.Value)), PrivateData: null);

    /// <summary>
    /// A send of a card stored unconfirmed whose creation DingTalk refused for certain takes its row away; another send of
    /// it that DingTalk created meanwhile confirms it: the card is stored again, not lost (clicks would not find it).
    /// </summary>
    [SkippableFact]
    public async Task A_card_confirmed_after_a_refused_send_took_its_row_away_is_stored_again()
    {
        SkipWithoutDatabase();
        var card = AdvancedCard("card-confirmed-after-forget", "1");
        await using (var scope = fixture.Scope())
        {
            var cards = scope.ServiceProvider.GetRequiredService<ICardStore>();
            await cards.SaveAsync(card, default);
            await cards.ForgetUnconfirmedAsync(card.Id, default);
            Assert.Null(await cards.FindAsync(card.Id, default));

            await cards.ConfirmCreationAsync(card, default);

            Assert.True((await cards.FindAsync(card.Id, default))!.CreationConfirmed);
        }

        await using var check = fixture.Scope();
        var stored = await check.ServiceProvider.GetRequiredService<ICardStore>().FindAsync(card.Id, default);
        Assert.True(stored!.CreationConfirmed);
        Assert.Equal("1", stored.PublicData["a"]);
    }

    [SkippableFact]
    public async Task Concurrent_robot_card_updates_all_land_in_its_json()
    {
        SkipWithoutDatabase();
        var now = DateTimeOffset.UtcNow;
        await using (var scope = fixture.Scope())
        {
            await scope.ServiceProvider.GetRequiredService<ICardStore>().SaveAsync(
                new CardRecord { Id = "robot-race", Kind = CardKind.Robot, TemplateId = "StandardCard", PublicData = new Dictionary<string, string> { [CardUpdates.RobotCardDataKey] = """{"header":"h"}""" }, Version = 1, CreatedAt = now, UpdatedAt = now },
                default);
        }

        await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            await using var scope = fixture.Scope();
            var change = new CardDataChange(null, null, Replace: false, PublicFrom: CardDataChange.Value(CardUpdates.RobotCardDataKey, current =>
                RobotCardData.Merge(current, new Dictionary<string, JsonElement> { [$"k{i}"] = JsonSerializer.SerializeToElement(i) })));
            await scope.ServiceProvider.GetRequiredService<ICardStore>().ApplyUpdateAsync("robot-race", change, default);
        }));

        await using var check = fixture.Scope();
        var stored = await check.ServiceProvider.GetRequiredService<ICardStore>().FindAsync("robot-race", default);
        using var json = JsonDocument.Parse(stored!.PublicData[CardUpdates.RobotCardDataKey]);
        Assert.Equal(21, json.RootElement.EnumerateObject().Count());
        Assert.Equal(21, stored.Version);
    }

    [SkippableFact]
    public async Task Retention_purges_old_callbacks_sent_entries_and_dead_letters_put_right_only_a_part_at_a_time()
    {
        SkipWithoutDatabase();

        // The purge runs 130 days from now, so with 7 days' retention this test's "old" rows (100 days on) and every
        // row the class's other tests wrote go, and its "fresh" rows (130 days on) stay; ids still grow with time.
        var fresh = DateTimeOffset.UtcNow.AddDays(130);
        var old = DateTimeOffset.UtcNow.AddDays(100);
        await using (var scope = fixture.Scope())
        {
            var callbacks = scope.ServiceProvider.GetRequiredService<ICallbackStore>();
            for (var i = 0; i < 20; i++)
            {
                await callbacks.TryAddAsync(Callback("card-old") with { ReceivedAt = old.AddMinutes(i) }, default);
            }

            for (var i = 0; i < 3; i++)
            {
                await callbacks.TryAddAsync(Callback("card-new") with { ReceivedAt = fresh }, default);
            }
        }

        // Outbox entries of card-aged, in the order they were queued: 17 sent long ago, a dead letter resolved and one
        // dismissed long ago, 2 still pending, 1 dead, 1 dead letter resolved only lately, 1 sent only lately (after an
        // outage), then 5 queued and sent lately.
        var ids = new List<long>();
        await using (var scope = fixture.Scope())
        {
            var outbox = scope.ServiceProvider.GetRequiredService<IOutbox>();
            for (var i = 0; i < 29; i++)
            {
                ids.Add(await outbox.EnqueueAsync(Update("card-aged", i), afterAnswer: false, default));
            }
        }

        await using (var connection = await fixture.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default))
        {
            async Task SetAsync(IEnumerable<long> entries, string status, DateTimeOffset created, DateTimeOffset? sent, DateTimeOffset? resolved = null)
            {
                foreach (var id in entries)
                {
                    await connection.ExecuteAsync(
                        "UPDATE outbox SET status = @status, created_at = @created, sent_at = @sent, resolved_at = @resolved WHERE id = @id",
                        new { id, status, created = created.ToUnixTimeMilliseconds(), sent = sent?.ToUnixTimeMilliseconds(), resolved = resolved?.ToUnixTimeMilliseconds() });
                }
            }

            await SetAsync(ids.Take(17), "Sent", old, old.AddMinutes(1));
            await SetAsync(ids.Skip(17).Take(1), "Resolved", old, null, old.AddMinutes(2));
            await SetAsync(ids.Skip(18).Take(1), "Dismissed", old, null, old.AddMinutes(2));
            await SetAsync(ids.Skip(19).Take(2), "Pending", old, null);
            await SetAsync(ids.Skip(21).Take(1), "Dead", old, null);
            await SetAsync(ids.Skip(22).Take(1), "Resolved", old, null, fresh);
            await SetAsync(ids.Skip(23).Take(1), "Sent", old, fresh);
            await SetAsync(ids.Skip(24), "Sent", fresh, fresh);
        }

        // Parts of 7 rows: every kind of row above falls on a part's edge somewhere.
        var (purgedCallbacks, purgedEntries, _) = await Retention(fresh, rowsPerWrite: 7).PurgeAsync(default);

        Assert.InRange(purgedCallbacks, 20, int.MaxValue); // this test's 20 and the other tests'
        Assert.Equal(19, purgedEntries); // no other test sends, resolves or dismisses (or leaves what it dismissed)
        await using var check = fixture.Scope();
        var store = check.ServiceProvider.GetRequiredService<ICallbackStore>();
        Assert.Empty(await store.ForCardAsync("card-old", default));
        Assert.Equal(3, (await store.ForCardAsync("card-new", default)).Count);
        await using var read = await fixture.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default);
        var left = (await read.QueryAsync<long>("SELECT id FROM outbox WHERE card_id = 'card-aged' ORDER BY id")).ToList();
        Assert.Equal(ids.Skip(19), left);
    }

    [SkippableFact]
    public async Task Retention_purges_the_typing_leases_of_cards_nobody_has_typed_into_for_longer_than_it()
    {
        SkipWithoutDatabase();
        // As above: 7 days' retention, purged 130 days from now. Whole milliseconds, as the leases store times.
        var fresh = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddDays(130).ToUnixTimeMilliseconds());
        var old = fresh.AddDays(-30);
        var card = (string what) => $"typing-{what}-{Guid.NewGuid():N}";
        var (idle, crashed, longText, recent) = (card("idle"), card("crashed"), card("long-text"), card("recent"));
        var clock = new FakeTimeProvider(old);
        var replica = Replica(clock);
        foreach (var id in new[] { idle, crashed, longText, recent })
        {
            Assert.NotNull(await replica.TryTakeAsync(id, Lease, default));
        }

        await replica.ReleaseAsync(idle, old, default); // typed its last frame long ago
        // crashed: never released, its lease long expired
        await replica.ReleaseAsync(recent, fresh.AddMinutes(-1), default); // keeps a pace: its last frame a minute ago
        clock.SetUtcNow(fresh.AddSeconds(-5));
        Assert.True(await replica.RenewAsync(longText, Lease, default)); // still held: its first frame long ago, typing on

        var (_, _, purged) = await Retention(fresh, rowsPerWrite: 1).PurgeAsync(default); // a row a part: on until one finds none

        Assert.InRange(purged, 2, int.MaxValue); // these two and the other tests' leases
        await using var read = await fixture.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default);
        var left = (await read.QueryAsync<string>("SELECT card_id FROM typing_leases")).Intersect([idle, crashed, longText, recent]);
        Assert.Equal([longText, recent], left.Order());
        clock.SetUtcNow(fresh);
        Assert.Equal(fresh.AddMinutes(-1), await Replica(clock).TryTakeAsync(recent, Lease, default)); // its pace kept
    }

    [SkippableFact]
    public async Task A_card_is_typed_into_by_one_replica_at_a_time_until_it_releases_it()
    {
        SkipWithoutDatabase();
        var clock = new FakeTimeProvider(T0);
        var (one, other) = (Replica(clock), Replica(clock));
        var card = $"typing-{Guid.NewGuid():N}";

        Assert.Equal(DateTimeOffset.UnixEpoch, await one.TryTakeAsync(card, Lease, default)); // no frame yet
        Assert.Null(await other.TryTakeAsync(card, Lease, default));
        Assert.NotNull(await one.TryTakeAsync(card, Lease, default)); // its own, again (a release that failed)

        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.True(await one.RenewAsync(card, Lease, default));
        clock.Advance(TimeSpan.FromSeconds(10)); // past the first term, within the renewed one
        Assert.Null(await other.TryTakeAsync(card, Lease, default));

        var lastFrame = clock.GetUtcNow() - TimeSpan.FromMilliseconds(120);
        await one.ReleaseAsync(card, lastFrame, default);
        Assert.Equal(lastFrame, await other.TryTakeAsync(card, Lease, default)); // at once, with the pace to keep
        Assert.False(await one.RenewAsync(card, Lease, default));
        await one.ReleaseAsync(card, clock.GetUtcNow(), default); // not its own any more: left alone
        Assert.Null(await one.TryTakeAsync(card, Lease, default));
    }

    [SkippableFact]
    public async Task A_typing_lease_left_by_a_crashed_replica_is_taken_over_only_once_it_has_expired()
    {
        SkipWithoutDatabase();
        var card = $"typing-{Guid.NewGuid():N}";
        var expires = T0 + Lease;
        var lastFrame = expires - TimeSpan.FromSeconds(1);
        await using (var connection = await fixture.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default))
        {
            await connection.ExecuteAsync(
                "INSERT INTO typing_leases (card_id, owner, until_at, last_frame_at) VALUES (@card, 'crashed-replica', @until, @lastFrame)",
                new { card, until = expires.ToUnixTimeMilliseconds(), lastFrame = lastFrame.ToUnixTimeMilliseconds() });
        }

        var clock = new FakeTimeProvider(expires);
        var next = Replica(clock);
        Assert.Null(await next.TryTakeAsync(card, Lease, default));
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(lastFrame, await next.TryTakeAsync(card, Lease, default));
    }

    [SkippableFact]
    public async Task Leases_a_previous_process_left_running_are_released_at_startup_on_a_SQLite_file_and_left_to_run_out_on_PostgreSQL()
    {
        SkipWithoutDatabase();
        var database = fixture.Services.GetRequiredService<GatewayDatabase>();
        var (typed, sent) = ($"typing-{Guid.NewGuid():N}", $"outbox-{Guid.NewGuid():N}");
        var until = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeMilliseconds();
        await using (var connection = await database.OpenAsync(default))
        {
            // A process killed while typing into one card and sending another's updates.
            await connection.ExecuteAsync("INSERT INTO typing_leases (card_id, owner, until_at, last_frame_at) VALUES (@typed, 'killed-process', @until, 0)", new { typed, until });
            await connection.ExecuteAsync("INSERT INTO outbox_leases (card_id, owner, until_at) VALUES (@sent, 'killed-process', @until)", new { sent, until });
        }

        await ActivatorUtilities.CreateInstance<SchemaMigrator>(fixture.Services).StartAsync(default); // the next process starts

        var taken = await Replica(TimeProvider.System).TryTakeAsync(typed, Lease, default);
        await using var read = await database.OpenAsync(default);
        var outboxUntil = await read.QuerySingleAsync<long>("SELECT until_at FROM outbox_leases WHERE card_id = @sent", new { sent });
        if (database.Exclusive)
        {
            // One process per SQLite file: the leases were the killed one's, and its cards go on at once.
            Assert.NotNull(taken);
            Assert.True(outboxUntil < DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        }
        else
        {
            // On PostgreSQL they may be another replica's, alive: left to run out.
            Assert.Null(taken);
            Assert.Equal(until, outboxUntil);
        }
    }

    [SkippableFact]
    public async Task Replicas_asking_for_the_same_free_cards_at_once_get_each_card_once()
    {
        SkipWithoutDatabase();
        var clock = new FakeTimeProvider(T0);
        var replicas = Enumerable.Range(0, 4).Select(_ => Replica(clock)).ToList();
        var cards = Enumerable.Range(0, 20).Select(_ => $"typing-{Guid.NewGuid():N}").ToList();

        var taken = await Task.WhenAll(cards.SelectMany(card => replicas.Select(async replica =>
        {
            await Task.Yield();
            return (card, Taken: await replica.TryTakeAsync(card, Lease, default) is not null);
        })));

        Assert.All(taken.GroupBy(t => t.card), byCard => Assert.Single(byCard, t => t.Taken));
    }

    [SkippableFact]
    public async Task A_cards_history_pages_newest_first_through_every_callback_once_also_where_they_share_a_millisecond()
    {
        SkipWithoutDatabase();
        var card = $"card-history-{Guid.NewGuid():N}";
        // Five clicks a millisecond, with ids in no order of their own; pages of 37 end inside a millisecond.
        var added = await AddCallbacksAsync(card, 250, i => Callback(card) with { ReceivedAt = T0.AddMilliseconds(i / 5) });
        await AddCallbacksAsync($"{card}-other", 10, i => Callback($"{card}-other") with { ReceivedAt = T0.AddMilliseconds(i) });

        var (seen, pages) = await PageThroughAsync(card, new CallbackHistoryQuery(37));

        Assert.Equal(7, pages);
        Assert.Equal(250, seen.Select(c => c.CallbackId).Distinct(StringComparer.Ordinal).Count()); // no repeat
        Assert.Equal(added.Select(c => c.CallbackId).Order(StringComparer.Ordinal), seen.Select(c => c.CallbackId).Order(StringComparer.Ordinal)); // no gap
        Assert.Equal(seen.Select(c => c.ReceivedAt).OrderDescending(), seen.Select(c => c.ReceivedAt)); // newest first
        Assert.All(seen, c => Assert.Equal(card, c.CardId));
        Assert.Equal(250, (await PageThroughAsync(card, new CallbackHistoryQuery(50))).Callbacks.Count); // a last page exactly full says there is no next

        await using var scope = fixture.Scope();
        var newest = await scope.ServiceProvider.GetRequiredService<ICallbackStore>().HistoryAsync(card, new CallbackHistoryQuery(1), default);
        Assert.Equal(T0.AddMilliseconds(49), Assert.Single(newest.Callbacks).ReceivedAt);
        Assert.NotNull(newest.Next);
    }

    [SkippableFact]
    public async Task A_cards_history_gives_one_users_clicks_or_one_outcomes_alone()
    {
        SkipWithoutDatabase();
        var card = $"card-history-of-{Guid.NewGuid():N}";
        var added = await AddCallbacksAsync(card, 60, i => Callback(card) with { UserId = $"u{i % 3}", ReceivedAt = T0.AddMilliseconds(i / 4) });
        await using (var scope = fixture.Scope())
        {
            var store = scope.ServiceProvider.GetRequiredService<ICallbackStore>();
            foreach (var (callback, i) in added.Select((c, i) => (c, i)))
            {
                await store.CompleteAsync(callback.CallbackId, i % 5 == 0 ? CallbackOutcome.Unhandled : CallbackOutcome.Handled, null, "{}", default);
            }
        }

        var (u1, _) = await PageThroughAsync(card, new CallbackHistoryQuery(7, UserId: "u1"));
        var (unhandled, _) = await PageThroughAsync(card, new CallbackHistoryQuery(5, Outcome: CallbackOutcome.Unhandled));
        var (u1Unhandled, _) = await PageThroughAsync(card, new CallbackHistoryQuery(2, UserId: "u1", Outcome: CallbackOutcome.Unhandled));
        var (nobody, pages) = await PageThroughAsync(card, new CallbackHistoryQuery(10, UserId: "u9"));

        Assert.Equal(Ids(added.Where((_, i) => i % 3 == 1)), Ids(u1));
        Assert.Equal(Ids(added.Where((_, i) => i % 5 == 0)), Ids(unhandled));
        Assert.Equal(Ids(added.Where((_, i) => i % 3 == 1 && i % 5 == 0)), Ids(u1Unhandled));
        Assert.All(unhandled, c => Assert.Equal(CallbackOutcome.Unhandled, c.Outcome));
        Assert.Equal(u1.Select(c => c.ReceivedAt).OrderDescending(), u1.Select(c => c.ReceivedAt));
        Assert.Equal((0, 1), (nobody.Count, pages));

        static IEnumerable<string> Ids(IEnumerable<CallbackRecord> callbacks) => callbacks.Select(c => c.CallbackId).Order(StringComparer.Ordinal);
    }

    /// <summary>
    /// One user's clicks are filtered in the page's query, before its <c>LIMIT</c>, not from a page read of every user's:
    /// with the other users' clicks between theirs, each page is full of that user's clicks, newest first, and its
    /// <c>next</c> is where it ended — none skipped, none twice.
    /// </summary>
    [SkippableFact]
    public async Task One_users_history_comes_in_full_pages_of_their_clicks_though_other_users_clicked_between_them()
    {
        SkipWithoutDatabase();
        var card = $"card-one-user-{Guid.NewGuid():N}";
        // 120 clicks, three a millisecond; one in eight is u7's, the rest four other users'.
        var added = await AddCallbacksAsync(card, 120, i => Callback(card) with { UserId = i % 8 == 3 ? "u7" : $"u{i % 4}", ReceivedAt = T0.AddMilliseconds(i / 3) });
        var theirs = added.Where(c => c.UserId == "u7")
            .OrderByDescending(c => c.ReceivedAt).ThenByDescending(c => c.CallbackId, StringComparer.Ordinal)
            .Select(c => c.CallbackId).ToList();
        await using var scope = fixture.Scope();
        var store = scope.ServiceProvider.GetRequiredService<ICallbackStore>();

        var pages = new List<List<string>>();
        var query = new CallbackHistoryQuery(4, UserId: "u7");
        while (true)
        {
            var page = await store.HistoryAsync(card, query, default);
            pages.Add([.. page.Callbacks.Select(c => c.CallbackId)]);
            if (page.Next is null)
            {
                break;
            }

            Assert.True(CallbackCursor.TryDecode(page.Next, out var next));
            Assert.Equal(CallbackCursor.Of(page.Callbacks[^1]), next); // where the page ended
            query = query with { Before = next };
        }

        Assert.Equal(15, theirs.Count);
        Assert.Equal(theirs.Chunk(4).Select(ids => ids.ToList()), pages); // 4, 4, 4, 3: full pages, in order
    }

    /// <summary>
    /// A card with a million clicks pages as fast as one with ten: each page's query starts inside the card's index at its
    /// cursor's time and reads it backwards in order, sorting only the clicks of one millisecond by id as it goes (SQLite's
    /// "right part of ORDER BY", PostgreSQL's incremental sort), never the card's callbacks (nor one user's) as a whole.
    /// PostgreSQL is told not to scan the table nor sort a whole result (on a table this small it would, being cheaper):
    /// what is asked is whether the index serves the query with no more than that incremental sort.
    /// </summary>
    [SkippableFact]
    public async Task A_page_of_a_cards_history_is_read_in_order_along_an_index()
    {
        SkipWithoutDatabase();
        var cursor = new CallbackCursor(T0.ToUnixTimeMilliseconds(), "any");
        var sqlite = fixture.Provider == StorageOptions.Sqlite;

        var all = await PlanAsync(new CallbackHistoryQuery(100, cursor));
        var first = await PlanAsync(new CallbackHistoryQuery(100));
        var oneUser = await PlanAsync(new CallbackHistoryQuery(100, cursor, UserId: "u1"));
        var oneOutcome = await PlanAsync(new CallbackHistoryQuery(100, cursor, Outcome: CallbackOutcome.HandlerFailed));

        foreach (var plan in new[] { all, first, oneUser, oneOutcome })
        {
            Assert.Matches(sqlite ? "USING INDEX callbacks_by_card \\(card_id=\\?" : "Index Scan Backward using callbacks_by_card on callbacks", plan);
            if (sqlite)
            {
                Assert.DoesNotContain("TEMP B-TREE FOR ORDER BY", plan, StringComparison.Ordinal); // a sort of the whole result
            }
            else
            {
                Assert.Matches("Incremental Sort[\\s\\S]*Presorted Key: received_at", plan);
                Assert.DoesNotMatch("(?<!Incremental )Sort  ", plan);
            }
        }

        foreach (var plan in new[] { all, oneUser, oneOutcome })
        {
            Assert.Matches(sqlite ? "card_id=\\? AND received_at<\\?" : "Index Cond: [^\\n]*card_id = [^\\n]*received_at <= ", plan); // starts at the cursor
        }

        if (!sqlite)
        {
            Assert.Contains("user_id = ", oneUser, StringComparison.Ordinal); // filtered on the way (SQLite's plan does not show filters)
        }
    }

    [SkippableFact]
    public async Task Every_cards_history_pages_across_cards_newest_first_one_outcomes_or_since_a_time_alone()
    {
        SkipWithoutDatabase();
        // A band of time no other test records in, so the other tests' callbacks stay out of the pages: a day within 2090
        // (500,000 minutes is 347 days). With up to 1,000,000 it could reach into 2091, where the unhandled clicks' test
        // records: its ten clicks once landed in this day (8 pages of 13, not 7).
        var from = new DateTimeOffset(2090, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(Random.Shared.Next(500_000));
        var band = $"band-{Guid.NewGuid():N}";
        var added = await AddCallbacksAsync(band, 90, i => Callback($"{band}-{i % 3}") with
        {
            ReceivedAt = from.AddMilliseconds(i / 4),
            Outcome = i % 5 == 0 ? CallbackOutcome.Unhandled : CallbackOutcome.Handled,
        });
        var start = new CallbackCursor(from.AddDays(1).ToUnixTimeMilliseconds(), "~");

        var (every, pages) = await PageThroughAsync(null, new CallbackHistoryQuery(13, start, Since: from));
        var (unhandled, _) = await PageThroughAsync(null, new CallbackHistoryQuery(4, start, Outcome: CallbackOutcome.Unhandled, Since: from));
        var (later, _) = await PageThroughAsync(null, new CallbackHistoryQuery(500, start, Since: from.AddMilliseconds(10)));

        Assert.Equal(7, pages);
        Assert.Equal(added.OrderByDescending(c => c.ReceivedAt).ThenByDescending(c => c.CallbackId, StringComparer.Ordinal).Select(c => c.CallbackId), every.Select(c => c.CallbackId));
        Assert.Equal(3, every.Select(c => c.CardId).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(Ids(added.Where((_, i) => i % 5 == 0)), Ids(unhandled));
        Assert.Equal(Ids(added.Where(c => c.ReceivedAt >= from.AddMilliseconds(10))), Ids(later));

        static IEnumerable<string> Ids(IEnumerable<CallbackRecord> callbacks) => callbacks.Select(c => c.CallbackId).Order(StringComparer.Ordinal);
    }

    [SkippableFact]
    public async Task Unhandled_clicks_are_grouped_by_what_a_handler_is_chosen_by_the_most_clicked_first()
    {
        SkipWithoutDatabase();
        var since = new DateTimeOffset(2091, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(Random.Shared.Next(500_000)); // within 2091, as the bands above and below keep to their years
        var g = Guid.NewGuid().ToString("N");
        await using (var scope = fixture.Scope())
        {
            var cards = scope.ServiceProvider.GetRequiredService<ICardStore>();
            await cards.SaveAsync(AdvancedCard($"{g}-a", "x") with { TemplateId = "tpl.a" }, default);
            await cards.SaveAsync(AdvancedCard($"{g}-b", "x") with { TemplateId = "tpl.b" }, default);
        }

        CallbackRecord Click(string card, int ms, string? action, string[] ids, CallbackOutcome outcome = CallbackOutcome.Unhandled) =>
            Callback($"{g}-{card}") with { ReceivedAt = since.AddMilliseconds(ms), Action = action, ActionIds = ids, Outcome = outcome };
        CallbackRecord[] clicks =
        [
            Click("a", 0, "escalate", ["btn1"]), Click("a", 1, "escalate", ["btn1"]), Click("a", 2, "escalate", ["btn2"]), Click("a", 9, "escalate", ["btn1"]),
            Click("b", 3, "escalate", ["btn1"]), Click("b", 4, "escalate", ["btn1"]),
            Click("foreign", 5, null, ["x"]), Click("foreign", 6, null, ["x"]), Click("foreign", 7, null, ["y"]),
            Click("a", 8, null, []) with { Type = "DynamicDataCallback" },
            Click("a", 10, "escalate", ["btn1"], CallbackOutcome.Handled), // claimed
            Click("a", -1, "escalate", ["btn1"]), // before since
        ];
        await AddCallbacksAsync(g, clicks.Length, i => clicks[i]);
        await using var read = fixture.Scope();
        var store = read.ServiceProvider.GetRequiredService<ICallbackStore>();

        var (groups, more) = await store.UnhandledAsync(since, 10, default);
        var (top, topMore) = await store.UnhandledAsync(since, 2, default);

        Assert.False(more);
        Assert.Equal(
            [("tpl.a", "escalate", "", 4), ("foreign", "", "x", 2), ("tpl.b", "escalate", "", 2), ("tpl.a", "", "", 1), ("foreign", "", "y", 1)],
            groups.Select(x => (x.TemplateId ?? "foreign", x.Example.Action ?? "", x.Example.Action is null ? string.Join(",", x.Example.ActionIds) : "", x.Count)));
        var escalate = groups[0];
        Assert.Equal((since, since.AddMilliseconds(9)), (escalate.FirstSeen, escalate.LastSeen));
        Assert.Contains(escalate.Example.CallbackId, clicks.Take(4).Select(c => c.CallbackId));
        Assert.Equal((CallbackOutcome.Unhandled, $"{g}-a"), (escalate.Example.Outcome, escalate.Example.CardId));
        Assert.Equal("DynamicDataCallback", groups[3].Example.Type);
        Assert.Equal(2, top.Count);
        Assert.True(topMore);
        Assert.Empty((await store.UnhandledAsync(since.AddMilliseconds(11), 10, default)).Groups);
    }

    /// <summary>
    /// A group's example is its latest click by receipt time — the one an operator looks for after "it happened again" —,
    /// of two in the same millisecond the one with the greater id; not the greatest id of the group, which (a signed
    /// delivery's id leads with its signature time, a Stream click's is a hash) may be any of its clicks.
    /// </summary>
    [SkippableFact]
    public async Task An_unhandled_groups_example_is_its_latest_click_by_receipt_time_then_id()
    {
        SkipWithoutDatabase();
        // Before the other tests' bands (2090 on), which read every click after theirs; this one reads only its template's group.
        var since = new DateTimeOffset(2089, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(Random.Shared.Next(500_000));
        var card = $"card-latest-{Guid.NewGuid():N}";
        var template = $"tpl.{card}"; // a group of its own, whatever other tests record after since
        await using (var scope = fixture.Scope())
        {
            await scope.ServiceProvider.GetRequiredService<ICardStore>().SaveAsync(AdvancedCard(card, "x") with { TemplateId = template }, default);
        }

        CallbackRecord Click(int ms, string id) =>
            Callback(card) with { CallbackId = $"{card}:{id}", ReceivedAt = since.AddMilliseconds(ms), Outcome = CallbackOutcome.Unhandled };
        CallbackRecord[] clicks = [Click(0, "zz"), Click(5, "aa"), Click(5, "ab"), Click(3, "zy"), Click(9, "zzz") with { Outcome = CallbackOutcome.Handled }];
        await AddCallbacksAsync(card, clicks.Length, i => clicks[i]);
        await using var read = fixture.Scope();

        var (groups, _) = await read.ServiceProvider.GetRequiredService<ICallbackStore>().UnhandledAsync(since, 500, default);

        var group = Assert.Single(groups, g => g.TemplateId == template);
        Assert.Equal((4, since, since.AddMilliseconds(5)), (group.Count, group.FirstSeen, group.LastSeen));
        Assert.Equal($"{card}:ab", group.Example.CallbackId); // not {card}:zz, the greatest id
        Assert.Equal((since.AddMilliseconds(5), CallbackOutcome.Unhandled, card), (group.Example.ReceivedAt, group.Example.Outcome, group.Example.CardId));
    }

    /// <summary>
    /// Every card's history pages along <c>callbacks_by_age</c> (time) as one card's does along its own index: from the
    /// cursor's time backwards, sorting only one millisecond's clicks by id; the unhandled clicks' groups read that index
    /// from <c>since</c> on, never the whole table.
    /// </summary>
    [SkippableFact]
    public async Task Every_cards_history_and_the_unhandled_groups_are_read_along_the_age_index()
    {
        SkipWithoutDatabase();
        var cursor = new CallbackCursor(T0.ToUnixTimeMilliseconds(), "any");
        var sqlite = fixture.Provider == StorageOptions.Sqlite;

        var all = await PlanAsync(new CallbackHistoryQuery(100, cursor), oneCard: false);
        var first = await PlanAsync(new CallbackHistoryQuery(100), oneCard: false);
        var oneOutcome = await PlanAsync(new CallbackHistoryQuery(100, cursor, Outcome: CallbackOutcome.Unhandled, Since: T0.AddDays(-7)), oneCard: false);
        var groups = await PlanAsync(SqlCallbackStore.UnhandledQuery, "callbacks_by_card", new { since = T0.ToUnixTimeMilliseconds(), outcome = "Unhandled", take = 101 });

        foreach (var plan in new[] { all, first, oneOutcome })
        {
            Assert.Matches(sqlite ? "INDEX callbacks_by_age" : "Index Scan Backward using callbacks_by_age on callbacks", plan);
            if (sqlite)
            {
                Assert.DoesNotContain("TEMP B-TREE FOR ORDER BY", plan, StringComparison.Ordinal); // a sort of the whole result
            }
            else
            {
                Assert.Matches("Incremental Sort[\\s\\S]*Presorted Key: received_at", plan);
                Assert.DoesNotMatch("(?<!Incremental )Sort  ", plan);
            }
        }

        foreach (var plan in new[] { all, oneOutcome })
        {
            Assert.Matches(sqlite ? "callbacks_by_age \\(received_at[<>]\\?" : "Index Cond: [^\\n]*received_at <= ", plan); // starts at the cursor
        }

        Assert.Matches(sqlite ? "SEARCH callbacks USING INDEX callbacks_by_age \\(received_at>\\?\\)" : "Index Scan using callbacks_by_age on callbacks[\\s\\S]*Index Cond: \\(received_at >= ", groups);
    }

    /// <summary>How the database plans <see cref="SqlCallbackStore.HistoryQuery"/>, as text.</summary>
    /// <remarks>
    /// On PostgreSQL the other callbacks index is out of the planner's sight (dropped in the plan's transaction, which is
    /// rolled back): on a test table of a few rows, the statistics of the moment (an autovacuum's analyze after another
    /// test's clicks) can make either index look as cheap as the other — a card's page read along every card's clicks by
    /// time, or every card's read along the card index with its time as a filter — which on a real table they are not.
    /// What is asked is whether the index meant for the query serves it in order.
    /// </remarks>
    private Task<string> PlanAsync(CallbackHistoryQuery query, bool oneCard = true) =>
        PlanAsync(SqlCallbackStore.HistoryQuery(query, oneCard), oneCard ? "callbacks_by_age" : "callbacks_by_card", new
        {
            cardId = "card-planned",
            userId = query.UserId,
            outcome = query.Outcome?.ToString(),
            since = query.Since?.ToUnixTimeMilliseconds(),
            beforeAt = query.Before?.ReceivedAtMs,
            beforeId = query.Before?.CallbackId,
            take = query.Limit + 1,
        });

    /// <summary>How the database plans <paramref name="sql"/>, as text.</summary>
    private Task<string> PlanAsync(string sql, object parameters) => PlanAsync(sql, hiding: null, parameters);

    /// <summary>How the database plans <paramref name="sql"/>, as text; on PostgreSQL without the index <paramref name="hiding"/> names.</summary>
    private async Task<string> PlanAsync(string sql, string? hiding, object parameters)
    {
        var sqlite = fixture.Provider == StorageOptions.Sqlite;
        await using var connection = await fixture.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default);
        await using var transaction = await connection.BeginTransactionAsync();
        if (!sqlite)
        {
            await connection.ExecuteAsync("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off", transaction: transaction);
            if (hiding is not null)
            {
                await connection.ExecuteAsync($"DROP INDEX {hiding}", transaction: transaction); // rolled back with the transaction
            }
        }

        var rows = await connection.QueryAsync((sqlite ? "EXPLAIN QUERY PLAN " : "EXPLAIN ") + sql, parameters, transaction);
        return string.Join('\n', rows.Select(r => (string)(sqlite ? ((IDictionary<string, object>)r)["detail"] : ((IDictionary<string, object>)r)["QUERY PLAN"])));
    }

    /// <summary>Every page of a card's history (every card's, for a null id), following each page's next, and how many pages it took.</summary>
    private async Task<(List<CallbackRecord> Callbacks, int Pages)> PageThroughAsync(string? cardId, CallbackHistoryQuery query)
    {
        await using var scope = fixture.Scope();
        var store = scope.ServiceProvider.GetRequiredService<ICallbackStore>();
        var seen = new List<CallbackRecord>();
        for (var pages = 1; ; pages++)
        {
            var page = await store.HistoryAsync(cardId, query, default);
            Assert.InRange(page.Callbacks.Count, 0, query.Limit);
            seen.AddRange(page.Callbacks);
            if (page.Next is null)
            {
                return (seen, pages);
            }

            Assert.Equal(query.Limit, page.Callbacks.Count);
            Assert.True(CallbackCursor.TryDecode(page.Next, out var next));
            query = query with { Before = next };
        }
    }

    /// <summary>Records <paramref name="count"/> callbacks in one transaction, as made by <paramref name="make"/>.</summary>
    private async Task<List<CallbackRecord>> AddCallbacksAsync(string cardId, int count, Func<int, CallbackRecord> make)
    {
        var added = Enumerable.Range(0, count).Select(make).ToList();
        await using var scope = fixture.Scope();
        var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
        var store = scope.ServiceProvider.GetRequiredService<ICallbackStore>();
        await session.BeginAsync(default);
        foreach (var callback in added)
        {
            Assert.True(await store.TryAddAsync(callback, default));
        }

        await session.CommitAsync(default);
        return added;
    }

    protected void SkipWithoutDatabase() => Skip.IfNot(fixture.Available, fixture.SkipReason);

    /// <summary>The typing leases of one gateway process (an owner of its own) on the fixture's database.</summary>
    /// <summary>The retention service as it runs at <paramref name="now"/>, deleting parts of the given size.</summary>
    private RetentionService Retention(DateTimeOffset now, int rowsPerWrite) => new(
        fixture.Services.GetRequiredService<GatewayDatabase>(),
        fixture.Services.GetRequiredService<SqliteWriteBatcher>(),
        fixture.Services.GetRequiredService<IOptionsMonitor<GatewayOptions>>(),
        new FakeTimeProvider(now),
        NullLogger<RetentionService>.Instance)
    {
        RowsPerWrite = rowsPerWrite,
    };

    private SqlTypingLeases Replica(TimeProvider clock) => new(
        fixture.Services.GetRequiredService<GatewayDatabase>(), fixture.Services.GetRequiredService<SqliteWriteBatcher>(), clock);

    /// <summary>A received vote on <paramref name="cardId"/> with an id of its own.</summary>
    internal static CallbackRecord Callback(string cardId) => new()
    {
        CallbackId = $"{cardId}:{Guid.NewGuid():N}",
        CardId = cardId,
        Transport = "Http",
        Type = "ActionCallback",
        UserId = "u1",
        Action = "vote",
        ActionIds = ["btn"],
        Params = JsonSerializer.SerializeToElement(new { action = "vote", option = "A" }),
        ReceivedAt = DateTimeOffset.UtcNow,
    };

    private static PendingCardUpdate Update(string cardId, int total) =>
        new(cardId, CardKind.Advanced, new Dictionary<string, JsonElement> { ["total"] = JsonSerializer.SerializeToElement(total) }, null);

    public sealed record Tally(List<string> Voters);
}
