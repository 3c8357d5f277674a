using System.Net;
using System.Net.Http.Json;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>
/// The gateway as real processes: a SIGKILL while DingTalk is down loses no vote, and two replicas on one
/// PostgreSQL behave as one gateway.
/// </summary>
public sealed class DurabilityTests : IAsyncLifetime
{
    private static readonly HttpMethod Put = HttpMethod.Put;
    private FakeDingTalk _dingTalk = null!;

    public async Task InitializeAsync() => _dingTalk = await FakeDingTalk.StartAsync();

    public async Task DisposeAsync() => await _dingTalk.DisposeAsync();

    [Fact]
    public async Task Twenty_votes_survive_a_SIGKILL_while_DingTalk_refuses_every_update()
    {
        var database = Path.Combine(Path.GetTempPath(), $"cg-crash-{Guid.NewGuid():N}.db");
        var settings = Settings(SqliteSettings(database));
        try
        {
            const string card = "crash-poll";
            await using (var gateway = await GatewayProcess.StartAsync(_dingTalk, settings))
            {
                await SendPollAsync(gateway, card);
                _dingTalk.State.FailNext(Put, "/v1.0/card/instances", 503, "ServiceUnavailable", times: 1_000_000);

                await VoteAsync(gateway, card, Enumerable.Range(1, 20).Select(i => $"voter{i}"));

                await Eventually.TrueAsync(() => _dingTalk.State.RequestsTo("/v1.0/card/instances").Any(r => r.Method == "PUT" && r.Status == 503), "the outbox trying DingTalk and being refused");
                await gateway.KillAsync();
            }

            _dingTalk.State.ClearFaults(); // DingTalk recovers while the gateway is dead
            await using (var restarted = await GatewayProcess.StartAsync(_dingTalk, settings))
            {
                await WaitForTotalAsync(card, "20", restarted);
            }

            var everyone = _dingTalk.State.FindCard(card)!.CardData;
            Assert.Equal("20", everyone["total"]);
            Assert.Equal(20, int.Parse(everyone["votes_a"], System.Globalization.CultureInfo.InvariantCulture) + int.Parse(everyone["votes_b"], System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            SqliteFiles.Delete(database);
        }
    }

    [Fact]
    public async Task A_vote_answered_before_its_commit_by_a_gateway_killed_then_is_handled_when_it_restarts_on_its_SQLite_file()
    {
        var database = Path.Combine(Path.GetTempPath(), $"cg-early-{Guid.NewGuid():N}.db");
        var settings = Settings(SqliteSettings(database));
        settings["Gateway:Callbacks:HandlerBudget"] = "00:00:00.300";
        try
        {
            const string card = "early-sqlite-poll";
            await using (var victim = await GatewayProcess.StartAsync(_dingTalk, settings))
            {
                await SendPollAsync(victim, card);

                // Another process holds the database's write lock: the vote waits for it, so it is answered {} at its budget
                // — and DingTalk will not deliver it again. The gateway dies before it could commit it.
                await using var holder = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={database};Pooling=False");
                await holder.OpenAsync();
                using var holding = holder.BeginTransaction(deferred: false);
                using var client = victim.CreateClient();
                using var vote = DingTalkCallback.Signed(DingTalkCallback.Body(card, "voter1", new { action = "vote", option = "a" }), GatewayFactory.ApiSecret);
                Assert.Equal("{}", (await HttpAssert.JsonAsync(await client.SendAsync(vote), HttpStatusCode.OK)).GetRawText());
                await victim.KillAsync();
                holding.Rollback();
            }

            await using var restarted = await GatewayProcess.StartAsync(_dingTalk, settings);
            await WaitForTotalAsync(card, "1", restarted);
            using var api = restarted.CreateAdminClient();
            var stored = await api.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/cards/{card}");
            Assert.Equal("Overran", Assert.Single(stored.GetProperty("callbacks").EnumerateArray()).GetProperty("outcome").GetString());
            Assert.Contains("\"Id\":3135", restarted.Output, StringComparison.Ordinal);
        }
        finally
        {
            SqliteFiles.Delete(database);
        }
    }

    [SkippableFact]
    public async Task Two_replicas_on_one_PostgreSQL_count_41_votes_once_each()
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            var settings = Settings(GatewayFactory.PostgresSettings(connectionString));
            await using var first = await GatewayProcess.StartAsync(_dingTalk, settings);
            await using var second = await GatewayProcess.StartAsync(_dingTalk, settings);
            const string card = "replica-poll";
            await SendPollAsync(first, card);

            // 40 voters spread over both replicas, and one delivery that reaches both (DingTalk's retry landing elsewhere).
            var voters = Enumerable.Range(1, 40).Select(i => $"voter{i}").ToList();
            var spread = voters.Select((voter, i) => VoteAsync(i % 2 == 0 ? first : second, card, [voter]));
            var twice = DuplicateDeliveryAsync(first, second, card, "voter41");
            await Task.WhenAll([.. spread, twice]);

            await WaitForTotalAsync(card, "41", first, second);
            await Task.Delay(500); // let any stray duplicate update arrive before counting
            var totals = _dingTalk.State.RequestsTo("/v1.0/card/instances")
                .Where(r => r.Method == "PUT" && r.Status == 200)
                .Select(r => System.Text.Json.JsonDocument.Parse(r.Body).RootElement.GetProperty("cardData").GetProperty("cardParamMap").GetProperty("total").GetString())
                .ToList();
            Assert.Equal(totals.Count, totals.Distinct().Count()); // no update sent twice for the same state
            Assert.Equal("41", totals[^1]);
            Assert.Equal("41", _dingTalk.State.FindCard(card)!.CardData["total"]);
        });
    }

    [SkippableFact]
    public async Task A_vote_answered_before_its_commit_by_a_replica_killed_then_is_handled_by_the_other_replica()
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            var settings = Settings(GatewayFactory.PostgresSettings(connectionString));
            settings["Gateway:Callbacks:HandlerBudget"] = "00:00:00.300";
            await using var survivor = await GatewayProcess.StartAsync(_dingTalk, settings);
            const string card = "early-replica-poll";
            await using (var victim = await GatewayProcess.StartAsync(_dingTalk, settings))
            {
                await SendPollAsync(victim, card);

                // Another session holds the card's row: the vote waits for it, so it is answered {} at its budget — and
                // DingTalk will not deliver it again. Its replica dies before it could commit it.
                await using var holder = new Npgsql.NpgsqlConnection(connectionString);
                await holder.OpenAsync();
                await using var holding = await holder.BeginTransactionAsync();
                await using (var lockCard = new Npgsql.NpgsqlCommand("SELECT 1 FROM cards WHERE id = @id FOR UPDATE", holder, holding))
                {
                    lockCard.Parameters.AddWithValue("id", card);
                    await lockCard.ExecuteScalarAsync();
                }

                using var client = victim.CreateClient();
                using var vote = DingTalkCallback.Signed(DingTalkCallback.Body(card, "voter1", new { action = "vote", option = "a" }), GatewayFactory.ApiSecret);
                Assert.Equal("{}", (await HttpAssert.JsonAsync(await client.SendAsync(vote), HttpStatusCode.OK)).GetRawText());
                await victim.KillAsync();
                await holding.RollbackAsync();
            }

            await WaitForTotalAsync(card, "1", survivor);
            using var api = survivor.CreateAdminClient();
            var stored = await api.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/cards/{card}");
            Assert.Equal("Overran", Assert.Single(stored.GetProperty("callbacks").EnumerateArray()).GetProperty("outcome").GetString());
            Assert.Contains("\"Id\":3135", survivor.Output, StringComparison.Ordinal);
        });
    }

    /// <summary>Waits for everyone's card to show <paramref name="total"/>; on failure says what the card and the gateways show.</summary>
    private async Task WaitForTotalAsync(string card, string total, params GatewayProcess[] gateways)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (_dingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("total") != total)
        {
            if (DateTime.UtcNow > deadline)
            {
                var shown = _dingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("total") ?? "(nothing)";
                var puts = string.Join(", ", _dingTalk.State.RequestsTo("/v1.0/card/instances").Where(r => r.Method == "PUT").Select(r => r.Status));
                var logs = string.Join("\n---\n", gateways.Select(g => string.Join('\n', g.Output.Split('\n').TakeLast(25))));
                Assert.Fail($"Everyone's card shows total {shown}, not {total}. PUT answers: [{puts}]. Gateway logs:\n{logs}");
            }

            await Task.Delay(50);
        }
    }

    private static Dictionary<string, string?> Settings(Dictionary<string, string?> storage)
    {
        storage["Gateway:Outbox:PollInterval"] = "00:00:00.050";
        storage["Gateway:Outbox:RetryBaseDelay"] = "00:00:00.100";
        storage["Gateway:Outbox:RetryMaxDelay"] = "00:00:00.500";
        storage["Gateway:Outbox:LeaseDuration"] = "00:00:01";
        storage["Gateway:Callbacks:HandlerBudget"] = "00:00:10"; // counting is the subject here, not the budget (tested elsewhere)
        storage["DingTalk:Outbound:RetryBaseDelay"] = "00:00:00.010";
        storage["DingTalk:Outbound:MaxRetryAttempts"] = "1";
        return storage;
    }

    private static Dictionary<string, string?> SqliteSettings(string database) => new()
    {
        ["Gateway:Storage:Provider"] = "Sqlite",
        ["Gateway:Storage:ConnectionString"] = $"Data Source={database}",
    };

    private static async Task SendPollAsync(GatewayProcess gateway, string outTrackId)
    {
        using var api = gateway.CreateAdminClient();
        var response = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId, openConversationId = "cidDurable==", cardData = new { title = "Lunch?" } });
        await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
    }

    private static async Task VoteAsync(GatewayProcess gateway, string outTrackId, IEnumerable<string> voters)
    {
        using var client = gateway.CreateClient();
        foreach (var voter in voters)
        {
            var option = voter.Length % 2 == 0 ? "a" : "b";
            using var request = DingTalkCallback.Signed(DingTalkCallback.Body(outTrackId, voter, new { action = "vote", option }), GatewayFactory.ApiSecret);
            var answer = await HttpAssert.JsonAsync(await client.SendAsync(request), HttpStatusCode.OK);
            Assert.Equal(option, answer.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myVote").GetString());
        }
    }

    private static async Task DuplicateDeliveryAsync(GatewayProcess first, GatewayProcess second, string outTrackId, string voter)
    {
        var body = DingTalkCallback.Body(outTrackId, voter, new { action = "vote", option = "a" });
        var signedAt = DateTimeOffset.UtcNow;
        using var one = first.CreateClient();
        using var other = second.CreateClient();
        using var toFirst = DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt);
        using var toSecond = DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt);
        var answers = await Task.WhenAll(one.SendAsync(toFirst), other.SendAsync(toSecond));
        foreach (var answer in answers)
        {
            await HttpAssert.JsonAsync(answer, HttpStatusCode.OK);
        }
    }
}
