using System.Diagnostics;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// On PostgreSQL a click whose handler locks a state of its own card (a poll's tally, an approval's decision) reads the
/// card for update in the same round trip, so its commit starts from that row instead of locking it then: on a hot
/// card, one round trip less that the next click waits for (<c>StorageSession.LockCardAlong</c>).
/// </summary>
public sealed class CardLockedAlongTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [SkippableFact]
    public Task On_PostgreSQL_a_click_locking_its_cards_own_state_holds_the_cards_row_from_then_until_it_commits() =>
        WaitingHandlerTests.OnPostgresAsync(async postgres =>
        {
            var card = await postgres.SendCardAsync("tpl.script");
            var other = await postgres.SendCardAsync("tpl.script");
            var counting = Guid.NewGuid().ToString("N");
            var idle = Guid.NewGuid().ToString("N");
            try
            {
                // u1 counts (a state of its card), then waits: the card's row is locked with the counter's.
                var click = postgres.ClickAsync(card, "u1", new { action = "script", @do = $"count,wait:{counting}" });
                await postgres.Gate.Entered(counting).WaitAsync(Patience);
                Assert.True(await IsRowLockedAsync(postgres, card), "the card locked along with its counter");

                // u2's handler locks no state of its card: its card stays free while it waits.
                var waiting = postgres.ClickAsync(other, "u2", new { action = "script", @do = $"wait:{idle}" });
                await postgres.Gate.Entered(idle).WaitAsync(Patience);
                Assert.False(await IsRowLockedAsync(postgres, other), "a click locking no state of its card does not lock the card");

                postgres.Gate.Open(counting);
                postgres.Gate.Open(idle);
                await Task.WhenAll(click, waiting).WaitAsync(Patience);
                await Eventually.TrueAsync(async () => (await postgres.HistoryAsync(card)).Any(c => c.Outcome is CallbackOutcome.Handled or CallbackOutcome.Overran), "u1 committed");
                Assert.False(await IsRowLockedAsync(postgres, card), "the lock ends with the transaction");
            }
            finally
            {
                postgres.Gate.Open(counting);
                postgres.Gate.Open(idle);
            }
        });

    [SkippableFact]
    public Task On_PostgreSQL_votes_on_one_card_at_once_each_update_the_card_from_the_row_they_locked_along() =>
        WaitingHandlerTests.OnPostgresAsync(async postgres =>
        {
            var poll = await postgres.SendCardAsync("tpl.poll");

            // 24 voters at once, then 8 of them change their vote: every tally and version lands once, in turn.
            await Task.WhenAll(Enumerable.Range(0, 24).Select(i => postgres.ClickAsync(poll, $"u{i}", new { action = "vote", option = i % 3 == 0 ? "a" : "b" }))).WaitAsync(Patience);
            await Task.WhenAll(Enumerable.Range(0, 8).Select(i => postgres.ClickAsync(poll, $"u{i * 3}", new { action = "vote", option = "c" }))).WaitAsync(Patience);

            await using var scope = postgres.App.Services.CreateAsyncScope();
            var stored = await scope.ServiceProvider.GetRequiredService<ICardStore>().FindAsync(poll, CancellationToken.None);
            Assert.NotNull(stored);
            Assert.Equal("24", stored.PublicData["total"]);
            Assert.Equal("0", stored.PublicData["votes_a"]);
            Assert.Equal("16", stored.PublicData["votes_b"]);
            Assert.Equal("8", stored.PublicData["votes_c"]);
            Assert.Equal(1 + 32, stored.Version); // created at 1, then one version a vote: none written on a version it did not read
            await Eventually.TrueAsync(() => postgres.DingTalk.State.FindCard(poll)?.CardData.GetValueOrDefault("votes_c") == "8", "everyone's card shows the last tally");
        });

    [SkippableFact]
    public Task On_PostgreSQL_a_handler_failing_after_locking_its_cards_state_leaves_neither_its_count_nor_the_cards_lock() =>
        WaitingHandlerTests.OnPostgresAsync(async postgres =>
        {
            var card = await postgres.SendCardAsync("tpl.script");

            Assert.Equal("{}", (await postgres.ClickAsync(card, "u1", new { action = "script", @do = "count,throw" }).WaitAsync(Patience)).GetRawText());
            Assert.False(await IsRowLockedAsync(postgres, card));

            var next = await postgres.ClickAsync(card, "u2", new { action = "script", @do = "count" }).WaitAsync(Patience);
            Assert.Equal("1", next.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myCount").GetString());
            Assert.Contains(CallbackOutcome.HandlerFailed, (await postgres.HistoryAsync(card)).Select(c => c.Outcome));
        });

    [SkippableFact]
    public Task On_PostgreSQL_a_changed_vote_is_four_round_trips_and_two_of_them_under_the_cards_locks() =>
        WaitingHandlerTests.OnPostgresAsync(async postgres =>
        {
            var poll = await postgres.SendCardAsync("tpl.poll");
            await postgres.ClickAsync(poll, "u1", new { action = "vote", option = "a" });
            // The card's lock is taken along only while free: not while the outbox still sends the first vote's update.
            await Eventually.TrueAsync(() => NothingUnsentAsync(postgres, poll), "the first vote's update sent");

            var statements = await RoundTripsAsync(postgres, () => postgres.ClickAsync(poll, "u1", new { action = "vote", option = "b" }));

            // 1. the claim, with the card's read, the tally's (the first vote taught the gateway the poll reads it) and the
            // savepoint before the handler; 2. the ballot, read for update in turn; 3. the tally and the card, read for update
            // in turn; 4. the ballot's, the tally's, the card's and the outcome's writes, the outbox entry and the COMMIT.
            // Thirteen before 556002a, eight before LockCardAlong and WithNextClaim.
            Assert.True(statements.Count == 4, $"{statements.Count} round trips: {string.Join(" | ", statements)}");
            Assert.StartsWith("INSERT INTO callbacks", statements[0], StringComparison.Ordinal);
        });

    /// <summary>
    /// A name read with every claim is read all the same (<see cref="CardStateNames"/>): it stays read along past
    /// <see cref="CardStateNames.ForgetAfter"/> claims since the one that learned it, where a name no handler reads is forgotten.
    /// </summary>
    [SkippableFact]
    public Task On_PostgreSQL_a_tally_read_with_each_claim_is_still_read_along_after_more_claims_than_forget_an_unread_name() =>
        WaitingHandlerTests.OnPostgresAsync(async postgres =>
        {
            var names = postgres.App.Services.GetRequiredService<CardStateNames>();
            var poll = await postgres.SendCardAsync("tpl.poll");
            await postgres.ClickAsync(poll, "u1", new { action = "vote", option = "a" }); // learns the tally: read on its own
            await Eventually.TrueAsync(() => NothingUnsentAsync(postgres, poll), "the first vote's update sent");
            await postgres.ClickAsync(poll, "u2", new { action = "vote", option = "a" }); // reads it with its claim
            await Eventually.TrueAsync(() => NothingUnsentAsync(postgres, poll), "the second vote's update sent");
            for (var claim = 1; claim < CardStateNames.ForgetAfter; claim++)
            {
                names.ForClaim(); // other cards' claims, none of whose handlers read the tally
            }

            var statements = await RoundTripsAsync(postgres, () => postgres.ClickAsync(poll, "u1", new { action = "vote", option = "b" }));

            Assert.True(statements.Count == 4, $"{statements.Count} round trips (the tally read on its own?): {string.Join(" | ", statements)}");
            Assert.Contains("poll", names.Names); // the tally's name
        });

    /// <summary>
    /// Another test's gateway on another database, serving requests while a click is counted (xUnit runs test classes in
    /// parallel: its card listing was once counted as this click's fifth round trip), and another test dropping its
    /// database meanwhile (which once emptied every pool of the process, so the click counted its connection's CONNECT).
    /// </summary>
    [SkippableFact]
    public Task On_PostgreSQL_a_clicks_round_trips_are_its_own_gateways_whatever_another_tests_gateway_and_database_do_meanwhile() =>
        WaitingHandlerTests.OnPostgresAsync(async postgres =>
        {
            var poll = await postgres.SendCardAsync("tpl.poll");
            await postgres.ClickAsync(poll, "u1", new { action = "vote", option = "a" });
            await Eventually.TrueAsync(() => NothingUnsentAsync(postgres, poll), "the first vote's update sent");

            await WaitingHandlerTests.OnPostgresAsync(async other =>
            {
                var dropped = await PostgresServer.CreateDatabaseAsync();
                List<string> statements;
                try
                {
                    statements = await RoundTripsAsync(postgres, async () =>
                    {
                        (await other.Api.GetAsync("/api/cards")).EnsureSuccessStatusCode();
                        await PostgresServer.DropDatabaseAsync(dropped);
                        await postgres.ClickAsync(poll, "u1", new { action = "vote", option = "b" });
                        (await other.Api.GetAsync("/api/cards")).EnsureSuccessStatusCode();
                    });
                }
                finally
                {
                    await PostgresServer.DropDatabaseAsync(dropped);
                }

                Assert.True(statements.Count == 4, $"{statements.Count} round trips: {string.Join(" | ", statements)}");
                Assert.StartsWith("INSERT INTO callbacks", statements[0], StringComparison.Ordinal);
            });
        });

    /// <summary>
    /// What the driver sends for one click, seen as Npgsql's own activities under a request of <paramref name="postgres"/>
    /// on its own database: the start of each round trip. The listener hears every activity of the process, and test
    /// classes run in parallel: another test's requests (its gateways on databases of their own) are not this click's.
    /// </summary>
    private static async Task<List<string>> RoundTripsAsync(CallbackGateway postgres, Func<Task> click)
    {
        var database = new NpgsqlConnectionStringBuilder(postgres.App.Services.GetRequiredService<IConfiguration>()["Gateway:Storage:ConnectionString"]).Database;
        var sent = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Npgsql" or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                if (activity.Source.Name == "Npgsql"
                    && activity.GetTagItem("db.namespace") as string == database
                    && Ancestors(activity).Any(a => a.Source.Name == "Microsoft.AspNetCore"))
                {
                    sent.Enqueue(activity.GetTagItem("db.query.text")?.ToString() ?? activity.DisplayName);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        await click().WaitAsync(Patience);
        return [.. sent.Select(s => s.TrimStart()[..Math.Min(60, s.TrimStart().Length)])];
    }

    [SkippableFact]
    public Task On_PostgreSQL_a_card_changed_after_its_state_took_it_along_and_again_after_another_cards_change_keeps_its_first_change() =>
        WaitingHandlerTests.OnPostgresAsync(async postgres =>
        {
            var card = await postgres.SendCardAsync("tpl.script");
            var other = await postgres.SendCardAsync("tpl.script");
            var created = (await StoredAsync(postgres, card)).Version;

            // A handler counting on its card (the card read for update along), updating its card, then another card, and
            // returning an update for everyone of its card: that last change starts from the card as the first one left it.
            await using (var scope = postgres.App.Services.CreateAsyncScope())
            {
                var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
                var cards = scope.ServiceProvider.GetRequiredService<ICardStore>();
                await session.BeginAsync(CancellationToken.None);
                session.LockCardAlong(card);
                await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().UpdateAsync<CountingStateHandler.Counter>(
                    CountingStateHandler.State, card, c => new CountingStateHandler.Counter((c?.Count ?? 0) + 1), CancellationToken.None);
                await cards.ApplyUpdateAsync(card, Change("first"), CancellationToken.None);
                await cards.ApplyUpdateAsync(other, Change("other"), CancellationToken.None);
                await cards.ApplyLastUpdateAsync(card, Change("last"), CancellationToken.None);
                await session.CommitAsync(CancellationToken.None);
            }

            var stored = await StoredAsync(postgres, card);
            Assert.Equal("yes", stored.PublicData.GetValueOrDefault("first"));
            Assert.Equal("yes", stored.PublicData.GetValueOrDefault("last"));
            Assert.Equal(created + 2, stored.Version);

            static CardDataChange Change(string key) => new(new Dictionary<string, string> { [key] = "yes" }, null, Replace: false);
        });

    [SkippableFact]
    public Task On_PostgreSQL_a_click_counting_on_a_card_another_click_holds_while_it_waits_does_not_take_the_card_along_into_a_deadlock() =>
        WaitingHandlerTests.OnPostgresAsync(async postgres =>
        {
            var card = await postgres.SendCardAsync("tpl.script");
            var gate = Guid.NewGuid().ToString("N");
            try
            {
                // u1 updates the card (its row locked) and waits before counting; u2 only counts, and changes no card.
                var first = postgres.ClickAsync(card, "u1", new { action = "script", @do = $"card,wait:{gate},count" });
                await postgres.Gate.Entered(gate).WaitAsync(Patience);
                var second = postgres.ClickAsync(card, "u2", new { action = "script", @do = "count" });
                await Eventually.TrueAsync(async () => second.IsCompleted || await AnyWaitingOnALockAsync(postgres), "u2 counted, or waits on a lock");

                // u1 counts: had u2 taken the card's lock along with the counter's, each would wait on the other.
                postgres.Gate.Open(gate);
                await Task.WhenAll(first, second).WaitAsync(Patience);
                await Eventually.TrueAsync(async () => (await postgres.HistoryAsync(card)).Count(c => c.Outcome != CallbackOutcome.Pending) == 2, "both committed");
                Assert.DoesNotContain(CallbackOutcome.HandlerFailed, (await postgres.HistoryAsync(card)).Select(c => c.Outcome));
                await using var scope = postgres.App.Services.CreateAsyncScope();
                var counter = await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().GetAsync<CountingStateHandler.Counter>(CountingStateHandler.State, card, CancellationToken.None);
                Assert.Equal(2, counter?.Count);
                Assert.Equal("yes", (await StoredAsync(postgres, card)).PublicData.GetValueOrDefault("scripted"));
            }
            finally
            {
                postgres.Gate.Open(gate);
            }
        });

    /// <summary>Whether a session of the gateway's database waits for a lock.</summary>
    private static async Task<bool> AnyWaitingOnALockAsync(CallbackGateway postgres)
    {
        var connectionString = postgres.App.Services.GetRequiredService<IConfiguration>()["Gateway:Storage:ConnectionString"];
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", connection);
        return (long)(await command.ExecuteScalarAsync())! > 0;
    }

    private static async Task<bool> NothingUnsentAsync(CallbackGateway postgres, string cardId)
    {
        await using var scope = postgres.App.Services.CreateAsyncScope();
        return (await scope.ServiceProvider.GetRequiredService<IOutbox>().UnsentForCardAsync(cardId, CancellationToken.None)).Count == 0;
    }

    private static async Task<CardRecord> StoredAsync(CallbackGateway postgres, string cardId)
    {
        await using var scope = postgres.App.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ICardStore>().FindAsync(cardId, CancellationToken.None) ?? throw new InvalidOperationException("no card " + cardId);
    }

    private static IEnumerable<Activity> Ancestors(Activity activity)
    {
        for (var parent = activity.Parent; parent is not null; parent = parent.Parent)
        {
            yield return parent;
        }
    }

    /// <summary>Whether another transaction holds the card's row lock, asked without waiting for it.</summary>
    private static async Task<bool> IsRowLockedAsync(CallbackGateway postgres, string cardId)
    {
        var connectionString = postgres.App.Services.GetRequiredService<IConfiguration>()["Gateway:Storage:ConnectionString"];
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand("SELECT 1 FROM cards WHERE id = @id FOR UPDATE NOWAIT", connection, transaction);
        command.Parameters.AddWithValue("id", cardId);
        try
        {
            Assert.Equal(1, await command.ExecuteScalarAsync());
            return false;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            return true;
        }
    }
}

