using System.Net;
using System.Text.Json;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>
/// A PostgreSQL server that restarts, or a network that cuts the gateway's connections, under clicks: each click whose
/// connection went is answered 503 to retry, said in the database's words, and the gateway takes clicks again as soon as
/// the server does. Found with a published gateway under 8 voting clients while its own PostgreSQL was restarted
/// (<c>pg_ctl restart -m fast</c> and <c>-m immediate</c>) or stopped for 20 s: 5–7 clicks a restart were answered 500
/// with two stack traces, and readiness said the storage's writes were failing for 30 s after the server was back.
/// </summary>
public sealed class DatabaseRestartTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [SkippableFact]
    public async Task A_click_whose_connection_the_server_ends_under_its_handler_is_a_503_to_retry_not_a_500()
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            var settings = GatewayFactory.PostgresSettings(connectionString);
            settings["Gateway:Callbacks:HandlerBudget"] = "00:00:10"; // answered by the pipeline itself, not {} at a budget
            var gateway = CallbackGateway.With(settings);
            await gateway.InitializeAsync();
            try
            {
                var card = await gateway.SendCardAsync("tpl.poll");
                var gate = Guid.NewGuid().ToString("N");

                // The handler waits at the gate, then reads its state for update, as a poll's vote does: the server
                // restarts (every session of the database ended, the click's open transaction with it) while it waits.
                var clicking = gateway.DingTalkClient.SendAsync(DingTalkCallback.Signed(
                    DingTalkCallback.Body(card, "u1", new { action = "script", @do = $"wait:{gate},count" }), GatewayFactory.ApiSecret));
                await gateway.Gate.Entered(gate).WaitAsync(Patience);
                await EndEverySessionAsync(connectionString);
                gateway.Gate.Open(gate);

                using var response = await clicking.WaitAsync(Patience);
                var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.ServiceUnavailable);
                Assert.Equal("Storage unavailable", problem.GetProperty("title").GetString());
                Assert.Equal("1", response.Headers.RetryAfter?.ToString());

                // Said once, as the database said it, without a stack trace; not as the handler failing, nor as a 500.
                var logs = gateway.Logs.LogEvents;
                Assert.DoesNotContain(logs, e => CardCallbackEndpointTests.EventId(e) is 9001 or 3102);
                var said = Assert.Single(logs, e => CardCallbackEndpointTests.EventId(e) == 9003);
                Assert.Null(said.Exception);
                Assert.Contains("57P01", said.RenderMessage(), StringComparison.Ordinal);
                Assert.Empty(await gateway.HistoryAsync(card)); // nothing of it committed: DingTalk's retry is handled afresh

                // The server is back at once: the next click is taken (after any pooled connection the cut ended, each a
                // 503 of its own), and readiness says the storage is healthy — not "its writes fail", as if the database
                // had refused them, for the 30 s after.
                await TakenAsync(gateway, card, "u2");
                Assert.Equal("Healthy", await StorageReadinessAsync(gateway));
            }
            finally
            {
                await gateway.DisposeAsync();
            }
        });
    }

    [Fact]
    public async Task Clicks_failing_while_the_database_is_away_are_said_once_and_its_return_once()
    {
        var away = new Away();
        var gateway = CallbackGateway.With(new Dictionary<string, string?>(), services =>
        {
            services.AddSingleton(away);
            services.RemoveAll<ICardStore>();
            services.AddScoped<ICardStore>(sp => new AwayCardStore(ActivatorUtilities.CreateInstance<SqlCardStore>(sp), sp.GetRequiredService<Away>()));
        });
        await gateway.InitializeAsync();
        try
        {
            var card = await gateway.SendCardAsync("tpl.poll");
            away.Card = card;
            away.IsAway = true;
            for (var user = 1; user <= 3; user++)
            {
                using var response = await gateway.DingTalkClient.SendAsync(DingTalkCallback.Signed(
                    DingTalkCallback.Body(card, $"u{user}", new { action = "vote", option = "A" }), GatewayFactory.ApiSecret));
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                Assert.Equal("1", response.Headers.RetryAfter?.ToString());
            }

            // Measured: 811 error lines in 22 s with the server stopped, one per click. Now the first, in the database's words.
            var said = Assert.Single(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 9003);
            Assert.Contains("Failed to connect", said.RenderMessage(), StringComparison.Ordinal);
            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 4141);

            away.IsAway = false;
            await gateway.ClickAsync(card, "u4", new { action = "vote", option = "A" }); // 200, taken
            var back = Assert.Single(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 4141);
            Assert.Contains("3 failed from", back.RenderMessage(), StringComparison.Ordinal);

            // A failure after it starts a run of its own, said again.
            away.IsAway = true;
            using (var again = await gateway.DingTalkClient.SendAsync(DingTalkCallback.Signed(
                DingTalkCallback.Body(card, "u5", new { action = "vote", option = "A" }), GatewayFactory.ApiSecret)))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, again.StatusCode);
            }

            Assert.Equal(2, gateway.Logs.LogEvents.Count(e => CardCallbackEndpointTests.EventId(e) == 9003));
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    /// <summary>What a restart does to the gateway's sessions: each ended by the server (57P01), idle in the pool or in a transaction.</summary>
    internal static async Task EndEverySessionAsync(string connectionString)
    {
        await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ToString());
        await admin.OpenAsync();
        await using var cut = new NpgsqlCommand("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", admin);
        Assert.True((long)(await cut.ExecuteScalarAsync())! > 0);
    }

    private sealed class Away
    {
        public volatile bool IsAway;

        public string? Card { get; set; }
    }

    /// <summary>The card store, but the read of <see cref="Away.Card"/> fails as a PostgreSQL server away would, while <see cref="Away.IsAway"/>.</summary>
    private sealed class AwayCardStore(ICardStore inner, Away away) : DelegatingCardStore(inner)
    {
        public override Task<CardRecord?> FindAsync(string id, CancellationToken cancellationToken) =>
            away.IsAway && id == away.Card
                ? throw new NpgsqlException("Failed to connect to 127.0.0.1:5432", new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused))
                : Inner.FindAsync(id, cancellationToken);
    }

    /// <summary>Clicks as <paramref name="user"/> until one is answered 200 (DingTalk retries a 503); any other answer fails the test.</summary>
    private static async Task TakenAsync(CallbackGateway gateway, string card, string user)
    {
        for (var attempt = 1; attempt <= 20; attempt++)
        {
            using var response = await gateway.DingTalkClient.SendAsync(DingTalkCallback.Signed(
                DingTalkCallback.Body(card, user, new { action = "count" }), GatewayFactory.ApiSecret));
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return;
            }

            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }

        Assert.Fail("20 clicks in a row were answered 503 after the server came back");
    }

    /// <summary>The storage check's status once the database answers it (a probe handed a pooled connection the cut ended says Unhealthy meanwhile).</summary>
    private static async Task<string?> StorageReadinessAsync(CallbackGateway gateway)
    {
        string? status = null;
        await Eventually.TrueAsync(
            async () =>
            {
                using var response = await gateway.DingTalkClient.GetAsync("/health/ready");
                using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                status = body.RootElement.GetProperty("checks").GetProperty("storage").GetProperty("status").GetString();
                return status != "Unhealthy";
            },
            "the database answering readiness");
        return status;
    }
}
