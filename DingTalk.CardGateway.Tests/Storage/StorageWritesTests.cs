using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Serilog.Events;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>
/// A database that answers every query but stores nothing — a full disk, a PostgreSQL that became read-only — fails every
/// click with a 503 while a plain <c>SELECT 1</c> says all is well: readiness says so, and why, and stops saying it once
/// the database takes writes again (PostgreSQL) or none has failed for a while.
/// </summary>
public sealed class StorageWritesTests
{
    private const int MaxPageCountDefault = 1_073_741_823;

    /// <summary>
    /// SQLite's <c>max_page_count</c> on the writer's connection makes the file refuse to grow, with the words and code of
    /// a full disk (SQLITE_FULL, "database or disk is full"): what a real full disk did to a published gateway (a 6 MB
    /// tmpfs, filled with <c>dd</c>), which answered the clicks 503 while <c>/health/ready</c> said "Sqlite reachable".
    /// </summary>
    [Fact]
    public async Task A_SQLite_file_that_cannot_grow_fails_clicks_503_and_readiness_says_why_until_writes_stop_failing()
    {
        await using var dingTalk = await FakeDingTalk.StartAsync();
        await using var gateway = new GatewayFactory(dingTalk);
        using var client = gateway.CreateClient();
        var card = await SendPollAsync(gateway, "card-full-disk");
        Assert.Equal("Healthy", (await StorageCheckAsync(client, HttpStatusCode.OK)).GetProperty("status").GetString());

        var batcher = gateway.Services.GetRequiredService<SqliteWriteBatcher>();
        await batcher.OnWriterConnectionAsync(
            async connection => await connection.RunAsync(null, $"PRAGMA max_page_count = {await connection.ScalarAsync<long>(null, "PRAGMA page_count", default)}", default),
            default);

        // Each click's record takes room; one soon needs a page the file may not grow by.
        var refused = await VoteUntilRefusedAsync(client, card);

        var problem = await HttpAssert.ProblemAsync(refused.Response, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("Storage unavailable", problem.GetProperty("title").GetString());
        var storage = await StorageCheckAsync(client, HttpStatusCode.OK);
        Assert.Equal("Degraded", storage.GetProperty("status").GetString());
        var description = storage.GetProperty("description").GetString()!;
        Assert.StartsWith("Sqlite answers, but its writes fail: SQLite Error 13: 'database or disk is full'", description, StringComparison.Ordinal);
        Assert.EndsWith("said until none fails for 30 s).", description, StringComparison.Ordinal);
        var degraded = Assert.Single(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 1109);
        Assert.Equal(LogEventLevel.Warning, degraded.Level);
        Assert.Contains("): storage: Sqlite answers, but its writes fail: SQLite Error 13", degraded.RenderMessage(), StringComparison.Ordinal);
        await StorageCheckAsync(client, HttpStatusCode.OK);
        Assert.Single(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 1109); // said once, not at every probe

        // Room again: the refused user clicks again, taken; the failure is said until none came for the window (30 s, cut short here).
        await batcher.OnWriterConnectionAsync(connection => connection.RunAsync(null, $"PRAGMA max_page_count = {MaxPageCountDefault}", default), default);
        using (var again = await client.SendAsync(Vote(card, refused.User)))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }

        Assert.Equal("Degraded", (await StorageCheckAsync(client, HttpStatusCode.OK)).GetProperty("status").GetString());
        gateway.Services.GetRequiredService<GatewayDatabase>().Writes.Window = TimeSpan.Zero;
        Assert.Equal("Healthy", (await StorageCheckAsync(client, HttpStatusCode.OK)).GetProperty("status").GetString());
        Assert.StartsWith("Ready again", gateway.LogEvents.Last(e => CardCallbackEndpointTests.EventId(e) == 1108).RenderMessage(), StringComparison.Ordinal);
        using var api = gateway.CreateAdminClient();
        var stored = await api.GetFromJsonAsync<JsonElement>($"/api/cards/{card}");
        Assert.Equal(refused.Accepted + 1, int.Parse(stored.GetProperty("card").GetProperty("publicData").GetProperty("total").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// A failover that leaves the gateway on a standby, or a database set read-only, refuses every write while it answers
    /// <c>SELECT 1</c>: readiness asks PostgreSQL whether it takes writes, so it is not ready, saying why, and ready again
    /// once it does.
    /// </summary>
    [SkippableFact]
    public async Task A_PostgreSQL_that_became_read_only_makes_the_gateway_not_ready_saying_so_and_ready_again_once_it_takes_writes()
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            await using var dingTalk = await FakeDingTalk.StartAsync();
            await using var gateway = new GatewayFactory(dingTalk, GatewayFactory.PostgresSettings(connectionString, GatewayFactory.LiveSettings(dingTalk)));
            using var client = gateway.CreateClient();
            var card = await SendPollAsync(gateway, "card-read-only");
            Assert.Equal("Healthy", (await StorageCheckAsync(client, HttpStatusCode.OK)).GetProperty("status").GetString());

            await SetReadOnlyAsync(gateway, connectionString, readOnly: true);

            using (var vote = await client.SendAsync(Vote(card, "u-read-only")))
            {
                await HttpAssert.ProblemAsync(vote, HttpStatusCode.ServiceUnavailable);
            }

            Assert.Contains(gateway.LogEvents, e => e.MessageTemplate.Text.Contains("the database failed", StringComparison.Ordinal)
                && e.RenderMessage().Contains("read-only transaction", StringComparison.Ordinal));
            var storage = await StorageCheckAsync(client, HttpStatusCode.ServiceUnavailable);
            Assert.Equal("Unhealthy", storage.GetProperty("status").GetString());
            Assert.StartsWith("PostgreSQL takes no writes: its transactions are read-only", storage.GetProperty("description").GetString(), StringComparison.Ordinal);
            var notReady = Assert.Single(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 1107);
            Assert.Contains("storage: PostgreSQL takes no writes", notReady.RenderMessage(), StringComparison.Ordinal);

            await SetReadOnlyAsync(gateway, connectionString, readOnly: false);

            // Ready again, the failed click still said for the window (30 s, cut short here); the click is taken.
            Assert.Equal("Degraded", (await StorageCheckAsync(client, HttpStatusCode.OK)).GetProperty("status").GetString());
            using (var vote = await client.SendAsync(Vote(card, "u-read-only")))
            {
                Assert.Equal(HttpStatusCode.OK, vote.StatusCode);
            }

            gateway.Services.GetRequiredService<GatewayDatabase>().Writes.Window = TimeSpan.Zero;
            Assert.Equal("Healthy", (await StorageCheckAsync(client, HttpStatusCode.OK)).GetProperty("status").GetString());
        });
    }

    /// <summary>
    /// The outbox and effect dispatchers fail at every pass while the database does (every 50 ms here, every second by
    /// default): each says it once, in the database's words and without a stack trace, and once more when it goes through.
    /// </summary>
    [Fact]
    public async Task Dispatchers_failing_at_every_pass_say_it_once_in_the_databases_words_and_once_more_when_they_go_through()
    {
        await using var dingTalk = await FakeDingTalk.StartAsync();
        await using var gateway = new GatewayFactory(dingTalk);
        await SendPollAsync(gateway, "card-dispatchers");
        var batcher = gateway.Services.GetRequiredService<SqliteWriteBatcher>();
        var database = gateway.Services.GetRequiredService<GatewayDatabase>();

        await RenameAsync(batcher, ("outbox", "outbox_away"), ("effects", "effects_away"));
        await Eventually.TrueAsync(() => database.Writes.Current is { Count: >= 5 }, "five failed passes of the outbox dispatcher");
        await Eventually.TrueAsync(() => gateway.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == 8006), "the effect dispatcher's failure said");
        await RenameAsync(batcher, ("outbox_away", "outbox"), ("effects_away", "effects"));

        foreach (var (failed, back, table) in new[] { (4104, 4112, "outbox"), (8006, 8020, "effects") })
        {
            await Eventually.TrueAsync(() => gateway.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == back), $"event {back}: the {table} dispatcher goes through again");
            var said = Assert.Single(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == failed);
            Assert.Equal(LogEventLevel.Error, said.Level);
            Assert.Null(said.Exception);
            Assert.Contains($"no such table: {table}", said.RenderMessage(), StringComparison.Ordinal);
            var failures = (int)((ScalarValue)Assert.Single(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == back).Properties["Failures"]).Value!;
            Assert.True(failures >= (table == "outbox" ? 5 : 1), $"{failures} failed passes of the {table} dispatcher counted");
        }
    }

    private static Task<int> RenameAsync(SqliteWriteBatcher batcher, params (string From, string To)[] tables) =>
        batcher.OnWriterConnectionAsync(
            async connection =>
            {
                foreach (var (from, to) in tables)
                {
                    await connection.RunAsync(null, $"ALTER TABLE {from} RENAME TO {to}", default);
                }

                return tables.Length;
            },
            default);

    /// <summary>New sessions of the database are read-only (or not); the gateway's pooled ones are replaced, as a failover replaces them.</summary>
    private static async Task SetReadOnlyAsync(GatewayFactory gateway, string connectionString, bool readOnly)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                readOnly ? $"ALTER DATABASE {name} SET default_transaction_read_only = on" : $"ALTER DATABASE {name} RESET default_transaction_read_only",
                connection);
            await command.ExecuteNonQueryAsync();
        }

        await using var pooled = new NpgsqlConnection(gateway.Services.GetRequiredService<GatewayDatabase>().ConnectionString);
        NpgsqlConnection.ClearPool(pooled);
    }

    private static async Task<string> SendPollAsync(GatewayFactory gateway, string card)
    {
        using var api = gateway.CreateAdminClient();
        using var sent = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = card, openConversationId = "cidWrites==", cardData = new { title = "Lunch?" } });
        Assert.Equal(HttpStatusCode.Created, sent.StatusCode);
        return card;
    }

    /// <summary>Votes of new users, each carrying a note of 2 KB, until one is refused: the refused one's user, and how many were taken before.</summary>
    private static async Task<(HttpResponseMessage Response, string User, int Accepted)> VoteUntilRefusedAsync(HttpClient client, string card)
    {
        for (var accepted = 0; accepted < 1_000; accepted++)
        {
            var user = $"u{accepted}";
            var response = await client.SendAsync(Vote(card, user));
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return (response, user, accepted);
            }

            response.Dispose();
        }

        throw new Xunit.Sdk.XunitException("1,000 votes of 2 KB each were all taken by a file that may not grow");
    }

    private static HttpRequestMessage Vote(string card, string user) =>
        DingTalkCallback.Signed(DingTalkCallback.Body(card, user, new { action = "vote", option = "A", note = new string('n', 2_048) }), GatewayFactory.ApiSecret);

    /// <summary><c>/health/ready</c>'s storage check, the probe answering <paramref name="expected"/>.</summary>
    private static async Task<JsonElement> StorageCheckAsync(HttpClient client, HttpStatusCode expected)
    {
        using var response = await client.GetAsync("/health/ready");
        return (await HttpAssert.JsonAsync(response, expected)).GetProperty("checks").GetProperty("storage");
    }
}
