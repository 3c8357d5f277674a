using System.Text.Json;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// A click answered <c>{}</c> at its budget whose handling then fails on storage (the database away for a moment, a
/// failover): DingTalk will not deliver it again, so the gateway tries it again until storage takes it, instead of
/// losing it (error 3112, before).
/// </summary>
public sealed class EarlyAnswerRetryTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [SkippableTheory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public Task A_click_answered_early_whose_storage_fails_is_tried_again_and_counted_once(string provider) =>
        WithGatewayAsync(provider, failures: 2, async (gateway, failing) =>
        {
            var card = await gateway.SendCardAsync("tpl.poll");
            failing.Card = card;
            var gate = Guid.NewGuid().ToString("N");
            Assert.Equal("{}", (await gateway.ClickAsync(card, "u1", new { action = "slow", gate }).WaitAsync(Patience)).GetRawText()); // past its budget

            gateway.Gate.Open(gate); // its update for everyone then meets storage failing, twice
            await Eventually.TrueAsync(async () => (await gateway.HistoryAsync(card)) is [{ Outcome: CallbackOutcome.Overran }], "the click recorded, as answered early");
            await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("slow") == "done", "its update for everyone at DingTalk");

            Assert.Equal(3, failing.Tries); // two failed, the third went through
            var retried = Assert.Single(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3132);
            Assert.Contains(card, retried.RenderMessage(), StringComparison.Ordinal);
            Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3133 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3112);
        });

    [SkippableFact]
    public async Task A_click_answered_early_whose_PostgreSQL_connection_is_cut_is_handled_again_on_a_new_one()
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            var settings = GatewayFactory.PostgresSettings(connectionString);
            settings["Gateway:Callbacks:HandlerBudget"] = "00:00:00.100";
            var gateway = CallbackGateway.With(settings);
            await gateway.InitializeAsync();
            try
            {
                var card = await gateway.SendCardAsync("tpl.poll");
                var gate = Guid.NewGuid().ToString("N");
                Assert.Equal("{}", (await gateway.ClickAsync(card, "u1", new { action = "slow", gate }).WaitAsync(Patience)).GetRawText()); // past its budget
                await gateway.Gate.Entered(gate).WaitAsync(Patience);

                // A failover, or a server restart: every connection of the gateway's is cut, the click's open transaction with them.
                await using (var admin = new Npgsql.NpgsqlConnection(connectionString))
                {
                    await admin.OpenAsync();
                    await using var cut = new Npgsql.NpgsqlCommand("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", admin);
                    Assert.True((long)(await cut.ExecuteScalarAsync())! > 0);
                }

                gateway.Gate.Open(gate);
                await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("slow") == "done", "its update for everyone at DingTalk");
                await Eventually.TrueAsync(
                    async () =>
                    {
                        try
                        {
                            return (await gateway.HistoryAsync(card)) is [{ Outcome: CallbackOutcome.Overran }];
                        }
                        catch (Npgsql.PostgresException ex) when (ex.SqlState == Npgsql.PostgresErrorCodes.AdminShutdown)
                        {
                            return false; // this read, too, was handed a pooled connection the cut ended
                        }
                    },
                    "the click recorded, as answered early");
                Assert.True(gateway.Gate.Arrivals(gate) >= 2, "its handler ran again, on the try that committed"); // more, should a try be handed another ended connection after its handler
                Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3133 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
                Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3112);
            }
            finally
            {
                await gateway.DisposeAsync();
            }
        });
    }

    /// <summary>
    /// The database away (a network cut): a click answered early meets it, and waits out its retry's backoff — here
    /// 10 minutes, so only a wake ends it within the test. Once a commit goes through again, it tries at once (it held
    /// its callback slot asleep for up to 10 s after the network healed, the fresh clicks meanwhile answered <c>{}</c>).
    /// </summary>
    [SkippableTheory]
    [InlineData(StorageOptions.Sqlite, "commit")]
    [InlineData(StorageOptions.Postgres, "commit")]
    [InlineData(StorageOptions.Sqlite, "readiness")]
    public Task A_click_waiting_to_try_again_after_losing_the_database_tries_at_once_when_it_answers_again(string provider, string sign) =>
        WithGatewayAsync(provider, failures: int.MaxValue, QuietOutbox, async (gateway, failing) =>
        {
            var pipeline = gateway.App.Services.GetRequiredService<CallbackPipeline>();
            (pipeline.RetryFirstWait, pipeline.RetryMaxWait) = (TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(10));
            failing.Failure = () => new Npgsql.NpgsqlException("Exception while reading from stream", new TimeoutException("Timeout during reading attempt")); // as Npgsql says a command the network swallowed
            var card = await gateway.SendCardAsync("tpl.poll");
            failing.Card = card;
            var gate = Guid.NewGuid().ToString("N");
            Assert.Equal("{}", (await gateway.ClickAsync(card, "u1", new { action = "slow", gate }).WaitAsync(Patience)).GetRawText()); // past its budget
            gateway.Gate.Open(gate);
            await Eventually.TrueAsync(() => gateway.Logs.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == 3132 && e.RenderMessage().Contains(card, StringComparison.Ordinal)), "the click failed, waiting to try again");

            failing.Card = null; // the database back
            if (sign == "commit")
            {
                var other = await gateway.SendCardAsync("tpl.poll");
                var answer = await gateway.ClickAsync(other, "u2", new { action = "vote", option = "A" }).WaitAsync(Patience);
                Assert.NotEqual("{}", answer.GetRawText()); // taken and committed
            }
            else
            {
                using var ready = await gateway.App.CreateClient().GetAsync(new Uri("/health/ready", UriKind.Relative)); // its storage check finds the database answering
            }

            await Eventually.TrueAsync(
                () => gateway.Logs.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == 3133 && e.RenderMessage().Contains(card, StringComparison.Ordinal)),
                "the click waiting to try again handled once the database answered, not 10 minutes later");
            await Eventually.TrueAsync(async () => (await gateway.HistoryAsync(card)) is [{ Outcome: CallbackOutcome.Overran }], "the click recorded once, as answered early");
            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3112);
        });

    [Fact]
    public Task A_click_whose_storage_keeps_failing_is_said_lost_when_the_gateway_stops() =>
        WithGatewayAsync(StorageOptions.Sqlite, failures: int.MaxValue, async (gateway, failing) =>
        {
            var card = await gateway.SendCardAsync("tpl.poll");
            failing.Card = card;
            var gate = Guid.NewGuid().ToString("N");
            Assert.Equal("{}", (await gateway.ClickAsync(card, "u1", new { action = "slow", gate }).WaitAsync(Patience)).GetRawText());
            gateway.Gate.Open(gate);
            await Eventually.TrueAsync(() => gateway.Logs.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == 3132), "the first failure said, and tried again");
            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3112);

            // The stop ends the tries (within its grace, not after the tries' whole limit) and says the click is lost.
            await gateway.App.DisposeAsync().AsTask().WaitAsync(Patience);
            var lost = Assert.Single(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3112);
            Assert.Contains(card, lost.RenderMessage(), StringComparison.Ordinal);
        });

    /// <summary>
    /// The outbox dispatcher polling only when signalled: its idle pass (every 250 ms; here every minute, its longest) is also a sign the database answers,
    /// and would wake the click before the test gives its own.
    /// </summary>
    private static readonly Dictionary<string, string?> QuietOutbox = new() { ["Gateway:Outbox:PollInterval"] = "00:01:00" };

    private static Task WithGatewayAsync(string provider, int failures, Func<CallbackGateway, FailingCardStore.Failures, Task> test) =>
        WithGatewayAsync(provider, failures, new Dictionary<string, string?>(), test);

    private static async Task WithGatewayAsync(string provider, int failures, IReadOnlyDictionary<string, string?> more, Func<CallbackGateway, FailingCardStore.Failures, Task> test)
    {
        var failing = new FailingCardStore.Failures(failures);
        var settings = new Dictionary<string, string?>(more)
        {
            ["Gateway:Callbacks:HandlerBudget"] = "00:00:00.100",
            ["Gateway:Callbacks:StopGrace"] = "00:00:02",
        };
        if (provider == StorageOptions.Postgres)
        {
            await PostgresServer.WithDatabaseAsync(async connectionString =>
            {
                foreach (var (key, value) in GatewayFactory.PostgresSettings(connectionString))
                {
                    settings[key] = value;
                }

                await RunAsync(settings, failing, test);
            });
        }
        else
        {
            await RunAsync(settings, failing, test);
        }
    }

    private static async Task RunAsync(Dictionary<string, string?> settings, FailingCardStore.Failures failing, Func<CallbackGateway, FailingCardStore.Failures, Task> test)
    {
        var gateway = CallbackGateway.With(settings, services => FailingCardStore.Replace(services, failing));
        await gateway.InitializeAsync();
        try
        {
            await test(gateway, failing);
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    /// <summary>The card store, but an update for everyone on <see cref="Failures.Card"/> fails as storage away would, <see cref="Failures"/> times.</summary>
    private sealed class FailingCardStore(ICardStore inner, FailingCardStore.Failures failures) : DelegatingCardStore(inner)
    {
        public static void Replace(IServiceCollection services, Failures failures)
        {
            services.RemoveAll<ICardStore>();
            services.AddScoped<ICardStore>(sp => new FailingCardStore(ActivatorUtilities.CreateInstance<CardGateway.Storage.Sql.SqlCardStore>(sp), failures));
        }

        public override Task<CardRecord?> ApplyLastUpdateAsync(string id, CardDataChange change, CancellationToken cancellationToken)
        {
            if (id == failures.Card && Interlocked.Increment(ref failures.TriesMade) <= failures.Count)
            {
                throw failures.Failure();
            }

            return Inner.ApplyLastUpdateAsync(id, change, cancellationToken);
        }

        public sealed class Failures(int count)
        {
            public int TriesMade;

            public int Count { get; } = count;

            public string? Card { get; set; }

            /// <summary>What each failed try throws: by default not the database's (no way back to hear of).</summary>
            public Func<Exception> Failure { get; set; } = () => new InvalidOperationException("storage away for a moment");

            public int Tries => Volatile.Read(ref TriesMade);
        }
    }
}
