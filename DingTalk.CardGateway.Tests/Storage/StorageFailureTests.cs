using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>A database that fails mid-flight costs a retry, not a 500 or a stack trace.</summary>
public sealed class StorageFailureTests
{
    [Fact]
    public async Task A_callback_the_database_cannot_record_is_answered_503_to_retry()
    {
        await using var dingTalk = await FakeDingTalk.StartAsync();
        await using var gateway = new GatewayFactory(dingTalk);
        using var client = gateway.CreateClient();
        await using (var connection = await gateway.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default))
        {
            await connection.RunAsync(null, "DROP TABLE callbacks", default);
        }

        using var response = await client.SendAsync(DingTalkCallback.Signed(
            DingTalkCallback.Body("card-no-storage", "u1", new { action = "vote", option = "A" }), GatewayFactory.ApiSecret));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("1", response.Headers.RetryAfter?.ToString());
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("callbacks", body, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", body, StringComparison.Ordinal);

        var logged = Assert.Single(gateway.LogEvents, e => e.MessageTemplate.Text.Contains("the database failed", StringComparison.Ordinal));
        Assert.Null(logged.Exception);
        Assert.Contains("no such table: callbacks", logged.RenderMessage(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_value_PostgreSQL_cannot_store_is_the_callers_400_not_a_503_to_retry()
    {
        await OnPostgresAsync(async (gateway, api) =>
        {
            // A NUL in a field stored as text: valid JSON, but PostgreSQL refuses it; retrying would fail the same way.
            using var response = await api.PostAsync(
                "/api/cards",
                new StringContent("""{"cardTemplateId":"tpl\u0000x","outTrackId":"card-nul","openConversationId":"cidNul=="}""", System.Text.Encoding.UTF8, "application/json"));

            var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
            Assert.Equal("Value not storable", problem.GetProperty("title").GetString());
            Assert.Null(response.Headers.RetryAfter);
            AssertLoggedAsTheCallersValue(gateway);
        });
    }

    [SkippableFact]
    public async Task A_card_id_too_long_for_PostgreSQLs_index_is_the_callers_400_not_a_503_to_retry()
    {
        await OnPostgresAsync(async (gateway, api) =>
        {
            // An id of a card the gateway did not create is taken as it comes; past ~2,700 bytes (a third of a page)
            // PostgreSQL cannot index it, and a retry would fail the same way.
            var id = string.Concat(Enumerable.Range(0, 100).Select(_ => Guid.NewGuid().ToString("N")));
            using var response = await api.PutAsJsonAsync($"/api/cards/{id}", new { cardData = new { status = "approved" } });

            var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
            Assert.Equal("Value not storable", problem.GetProperty("title").GetString());
            Assert.Null(response.Headers.RetryAfter);
            AssertLoggedAsTheCallersValue(gateway);
        });
    }

    /// <summary>Runs <paramref name="test"/> on a Live gateway on a fresh PostgreSQL database, with its admin client; skipped without a server.</summary>
    private static async Task OnPostgresAsync(Func<GatewayFactory, HttpClient, Task> test)
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            await using var dingTalk = await FakeDingTalk.StartAsync();
            var settings = GatewayFactory.PostgresSettings(connectionString, GatewayFactory.LiveSettings(dingTalk));
            await using var gateway = new GatewayFactory(dingTalk, settings);
            using var api = gateway.CreateAdminClient();
            await test(gateway, api);
        });
    }

    /// <summary>A value the database refused is the caller's to fix: not logged as the database failing (an operator's alarm), nor as answered 503.</summary>
    private static void AssertLoggedAsTheCallersValue(GatewayFactory gateway)
    {
        Assert.DoesNotContain(gateway.LogEvents, e => e.MessageTemplate.Text.Contains("the database failed", StringComparison.Ordinal));
        var logged = Assert.Single(gateway.LogEvents, e => e.MessageTemplate.Text.Contains("the database refused a value", StringComparison.Ordinal));
        Assert.Equal(Serilog.Events.LogEventLevel.Warning, logged.Level);
        Assert.Contains("answered 400", logged.RenderMessage(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Data Source=:memory:")]
    [InlineData("Data Source=holding-up;Mode=Memory")] // a name of its own: a named memdb database is the process's, and InMemoryDatabaseTests has "trying-out"
    public async Task An_in_memory_database_holds_for_the_life_of_the_gateway(string connectionString)
    {
        await using var dingTalk = await FakeDingTalk.StartAsync();
        var settings = GatewayFactory.LiveSettings(dingTalk);
        settings["Gateway:Storage:ConnectionString"] = connectionString;
        await using var gateway = new GatewayFactory(dingTalk, settings);
        using var api = gateway.CreateAdminClient();
        using var client = gateway.CreateClient();
        var card = $"card-memory-{Guid.NewGuid():N}";
        using (var sent = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = card, openConversationId = "cidMemory==", cardData = new { title = "Lunch?" } }))
        {
            Assert.Equal(HttpStatusCode.Created, sent.StatusCode);
        }

        foreach (var user in new[] { "u1", "u2" })
        {
            using var vote = await client.SendAsync(DingTalkCallback.Signed(DingTalkCallback.Body(card, user, new { action = "vote", option = "A" }), GatewayFactory.ApiSecret));
            Assert.Equal(HttpStatusCode.OK, vote.StatusCode);
        }

        var stored = await api.GetFromJsonAsync<JsonElement>($"/api/cards/{card}");
        Assert.Equal("2", stored.GetProperty("card").GetProperty("publicData").GetProperty("total").GetString());
        var callbacks = stored.GetProperty("callbacks");
        Assert.Equal(2, callbacks.GetArrayLength());
        Assert.All(callbacks.EnumerateArray(), c =>
        {
            Assert.Equal("A", c.GetProperty("params").GetProperty("option").GetString());
            Assert.True(c.GetProperty("durationMs").GetDouble() >= 0);
        });
    }

    /// <summary>
    /// What a click waiting to try again hears the database's return for (<see cref="DatabaseBack"/>): the way to it
    /// lost, or a wait for it timed out however wrapped; not a database that answered and refused, nor a failure of its own.
    /// </summary>
    [Fact]
    public void A_lost_connection_or_a_timeout_is_the_database_unreachable_a_refusal_is_not()
    {
        Assert.True(StorageFailure.IsUnreachable(new Npgsql.NpgsqlException("Exception while reading from stream", new TimeoutException("Timeout during reading attempt"))));
        Assert.True(StorageFailure.IsUnreachable(new Npgsql.NpgsqlException("Failed to connect to 127.0.0.1:5432", new System.Net.Sockets.SocketException())));
        Assert.True(StorageFailure.IsUnreachable(new TimeoutException("The operation has timed out", new TimeoutException()))); // as a wait for a pooled connection ends
        Assert.True(StorageFailure.IsUnreachable(new InvalidOperationException("wrapped", new TimeoutException())));
        Assert.False(StorageFailure.IsUnreachable(new Npgsql.PostgresException("could not extend file", "ERROR", "ERROR", "53100"))); // a full disk: it answers, and refuses
        Assert.False(StorageFailure.IsUnreachable(new InvalidOperationException("not the database's")));
    }
}
