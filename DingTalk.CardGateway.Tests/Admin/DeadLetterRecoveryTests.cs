using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using static System.Net.Http.HttpMethod;

namespace DingTalk.CardGateway.Tests.Admin;

/// <summary>
/// An operator puts dead letters right through the admin API once their cause is fixed: a card's whole stored state is
/// resent (and its dead letters stop counting everywhere an alert or an operator looks), another system's card's dead
/// letters are dismissed. Each test has its own fake DingTalk and gateway, so the gauge counts its entries alone.
/// </summary>
public sealed class DeadLetterRecoveryTests : IAsyncLifetime
{
    private static readonly string[] CardWrite = ["Card.Instance.Write"];
    private FakeDingTalk _dingTalk = null!;
    private GatewayFactory _gateway = null!;
    private HttpClient _api = null!;

    private Sandbox.SandboxState DingTalk => _dingTalk.State;

    public async Task InitializeAsync()
    {
        _dingTalk = await FakeDingTalk.StartAsync();
        _gateway = new GatewayFactory(_dingTalk, new Dictionary<string, string?> { ["Gateway:Outbox:CountInterval"] = "00:00:00.050" });
        _api = _gateway.CreateAdminClient();
    }

    public async Task DisposeAsync()
    {
        _api.Dispose();
        await _gateway.DisposeAsync();
        await _dingTalk.DisposeAsync();
    }

    [Fact]
    public async Task A_card_dead_lettered_for_a_missing_permission_is_resent_whole_once_granted_and_its_dead_letter_stops_counting()
    {
        using var gauge = Collect("cardgateway.outbox.entries");
        await HttpAssert.JsonAsync(
            await _api.PostAsJsonAsync("/api/cards", new
            {
                cardTemplateId = "tpl",
                outTrackId = "perm-1",
                openConversationId = "cidR==",
                cardData = new { n = 0, status = "open" },
                privateData = new Dictionary<string, object> { ["u1"] = new { role = "approver" }, ["u2"] = new { role = "viewer" } },
            }),
            HttpStatusCode.Created);

        // The app lacks the permission: the update is dead-lettered, and counted as dead everywhere.
        DingTalk.DenyPermissionNext(Put, "/v1.0/card/instances", CardWrite, bodyContains: "perm-1");
        var refused = await _api.PutAsJsonAsync("/api/cards/perm-1", new
        {
            cardData = new { title = "Deploy approved" },
            privateData = new Dictionary<string, object> { ["u1"] = new { note = "you approved" } },
        });
        await HttpAssert.ProblemAsync(refused, HttpStatusCode.BadGateway);
        Assert.Equal(1, await DeadUpdatesListedAsync("perm-1"));
        await Eventually.TrueAsync(() => Dead(gauge) == 1, "the dead letter on the gauge");

        // A later update goes out with its own keys only: DingTalk still lacks what the dead one carried.
        Assert.Equal(HttpStatusCode.NoContent, (await _api.PutAsJsonAsync("/api/cards/perm-1", new { cardData = new { n = 2 } })).StatusCode);
        Assert.False(DingTalk.FindCard("perm-1")!.CardData.ContainsKey("title"));

        // The permission granted (the fake accepts again), the operator resends the card.
        var resent = await _api.PostAsync("/api/cards/perm-1/resend", null);

        Assert.Equal(HttpStatusCode.NoContent, resent.StatusCode);
        var shown = DingTalk.FindCard("perm-1")!;
        Assert.Equal("Deploy approved", shown.CardData["title"]);
        Assert.Equal(("2", "open"), (shown.CardData["n"], shown.CardData["status"]));
        Assert.Equal(new Dictionary<string, string> { ["role"] = "approver", ["note"] = "you approved" }, shown.PrivateData["u1"]);
        Assert.Equal("viewer", shown.PrivateData["u2"]["role"]);
        var lastPut = DingTalk.RequestsTo("/v1.0/card/instances").Last(r => r.Method == "PUT");
        Assert.Contains("\"u2\"", lastPut.Body, StringComparison.Ordinal); // every user's stored private data, not only the dead letter's

        var state = await HttpAssert.JsonAsync(await _api.GetAsync("/api/cards/perm-1"), HttpStatusCode.OK);
        Assert.Equal(0, state.GetProperty("undelivered").GetArrayLength());
        Assert.Equal(0, await DeadUpdatesListedAsync("perm-1"));
        Assert.DoesNotContain("perm-1", await ListedAsync("/api/cards?undelivered=dead"));
        await Eventually.TrueAsync(() => Dead(gauge) == 0, "the resolved dead letter off the gauge");
        Assert.Contains(_gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 4108 && e.RenderMessage().Contains("perm-1", StringComparison.Ordinal));
    }

    /// <summary>
    /// The resend's 204 says its card's older dead letters are resolved: a client (or a script resending card after card)
    /// that looks right after it must not find them still dead. On PostgreSQL, another transaction holds the dead letter's
    /// row while the resend goes out, so the write that resolves it waits: the resend is not answered 204 meanwhile.
    /// </summary>
    [SkippableFact]
    public async Task A_resend_answered_204_has_resolved_its_dead_letters_by_then()
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            await using var gateway = new GatewayFactory(_dingTalk, GatewayFactory.PostgresSettings(connectionString));
            using var api = gateway.CreateAdminClient();
            await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "perm-race", openConversationId = "cidR==", cardData = new { n = 0 } }), HttpStatusCode.Created);
            DingTalk.DenyPermissionNext(Put, "/v1.0/card/instances", CardWrite, bodyContains: "perm-race");
            await HttpAssert.ProblemAsync(await api.PutAsJsonAsync("/api/cards/perm-race", new { cardData = new { n = 1 } }), HttpStatusCode.BadGateway);

            HttpStatusCode answered;
            int deadWhenAnswered;
            await using (var holder = new Npgsql.NpgsqlConnection(connectionString))
            {
                await holder.OpenAsync();
                await using var held = await holder.BeginTransactionAsync();
                await using (var lockRow = new Npgsql.NpgsqlCommand("SELECT id FROM outbox WHERE card_id = 'perm-race' AND status = 'Dead' FOR UPDATE", holder, held))
                {
                    Assert.NotNull(await lockRow.ExecuteScalarAsync());
                }

                using var resent = await api.PostAsync("/api/cards/perm-race/resend", null);
                answered = resent.StatusCode;
                var state = await HttpAssert.JsonAsync(await api.GetAsync("/api/cards/perm-race"), HttpStatusCode.OK);
                deadWhenAnswered = state.GetProperty("undelivered").EnumerateArray().Count(u => u.GetProperty("status").GetString() == "Dead");
                await held.RollbackAsync();
            }

            Assert.True(answered != HttpStatusCode.NoContent || deadWhenAnswered == 0, $"the resend answered 204 while {deadWhenAnswered} dead letter(s) of the card still counted as dead");
            await Eventually.TrueAsync(
                async () => (await HttpAssert.JsonAsync(await api.GetAsync("/api/cards/perm-race"), HttpStatusCode.OK)).GetProperty("undelivered").GetArrayLength() == 0,
                "the dead letter resolved once its row is free");
        });
    }

    /// <summary>
    /// On PostgreSQL a resend's entry takes its id without the card's lock, so an update may take a later id, commit first,
    /// and be refused (dead-lettered) before the resend commits. Its change was stored when it committed, so the resend,
    /// which reads the stored card as it leaves, carries it: once delivered, that dead letter is put right too.
    /// </summary>
    [SkippableFact]
    public async Task A_dead_letter_refused_while_the_resend_was_being_queued_is_resolved_by_it_on_PostgreSQL()
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            await using var gateway = new GatewayFactory(_dingTalk, GatewayFactory.PostgresSettings(connectionString));
            HttpClient? client = null;
            var refusedMeanwhile = new UpdateWhileResendQueued("perm-queued", async () =>
            {
                // Between the resend's id and its commit: an update commits, DingTalk refuses it for good (the permission
                // is still missing then), and it is dead-lettered with an id after the resend's.
                DingTalk.DenyPermissionNext(Put, "/v1.0/card/instances", CardWrite, bodyContains: "perm-queued");
                await HttpAssert.ProblemAsync(await client!.PutAsJsonAsync("/api/cards/perm-queued", new { cardData = new { title = "Deploy approved" } }), HttpStatusCode.BadGateway);
            });
            await using var racing = gateway.WithWebHostBuilder(builder => builder.ConfigureTestServices(services => refusedMeanwhile.Replace(services)));
            using var api = client = racing.CreateClient();
            api.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, GatewayFactory.AdminKey);
            await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "perm-queued", openConversationId = "cidR==", cardData = new { n = 0 } }), HttpStatusCode.Created);
            DingTalk.DenyPermissionNext(Put, "/v1.0/card/instances", CardWrite, bodyContains: "perm-queued");
            await HttpAssert.ProblemAsync(await api.PutAsJsonAsync("/api/cards/perm-queued", new { cardData = new { n = 1 } }), HttpStatusCode.BadGateway);

            var resent = await api.PostAsync("/api/cards/perm-queued/resend", null);

            Assert.True(refusedMeanwhile.Ran, "an update was dead-lettered while the resend was being queued");
            Assert.Equal(HttpStatusCode.NoContent, resent.StatusCode);
            Assert.Equal(("1", "Deploy approved"), (DingTalk.FindCard("perm-queued")!.CardData["n"], DingTalk.FindCard("perm-queued")!.CardData["title"]));
            var state = await HttpAssert.JsonAsync(await api.GetAsync("/api/cards/perm-queued"), HttpStatusCode.OK);
            Assert.Equal(0, state.GetProperty("undelivered").GetArrayLength());
        });
    }

    /// <summary>The outbox, but once a resend of <paramref name="id"/> is queued (not committed yet) <paramref name="meanwhile"/> runs.</summary>
    private sealed class UpdateWhileResendQueued(string id, Func<Task> meanwhile)
    {
        private int _taken;

        public string Id => id;

        public Func<Task> Meanwhile => meanwhile;

        public bool Ran { get; private set; }

        public void Replace(IServiceCollection services)
        {
            services.RemoveAll<IOutbox>();
            services.AddScoped<IOutbox>(sp => new Outbox(ActivatorUtilities.CreateInstance<SqlOutbox>(sp), this));
        }

        private sealed class Outbox(IOutbox inner, UpdateWhileResendQueued race) : IOutbox
        {
            public async Task<long> EnqueueAsync(PendingCardUpdate update, bool afterAnswer, CancellationToken cancellationToken)
            {
                var queued = await inner.EnqueueAsync(update, afterAnswer, cancellationToken);
                if (update.Resend && update.CardId == race.Id && Interlocked.Exchange(ref race._taken, 1) == 0)
                {
                    await race.Meanwhile();
                    race.Ran = true;
                }

                return queued;
            }

            public Task EnqueueLastAsync(PendingCardUpdate update, CancellationToken cancellationToken) => inner.EnqueueLastAsync(update, cancellationToken);

            public Task<OutboxEntry?> FindAsync(long entryId, CancellationToken cancellationToken) => inner.FindAsync(entryId, cancellationToken);

            public Task<IReadOnlyList<OutboxEntry>> UnsentForCardAsync(string cardId, CancellationToken cancellationToken) => inner.UnsentForCardAsync(cardId, cancellationToken);

            public Task<int> DismissDeadAsync(string cardId, CancellationToken cancellationToken) => inner.DismissDeadAsync(cardId, cancellationToken);

            public Task<OutboxEntry?> WaitAsync(long entryId, TimeSpan maxWait, CancellationToken cancellationToken) => inner.WaitAsync(entryId, maxWait, cancellationToken);
        }
    }

    [Fact]
    public async Task A_robot_card_is_resent_with_its_StandardCard_and_every_users_private_data()
    {
        var card = new { cardBizId = "robot-perm", openConversationId = "cidR==", cardData = new { header = new { title = new { type = "text", text = "Lunch?" } }, contents = Array.Empty<object>() } };
        await HttpAssert.JsonAsync(await _api.PostAsJsonAsync("/api/robot-cards", card), HttpStatusCode.Created);
        Assert.Equal(
            HttpStatusCode.NoContent,
            (await _api.PutAsJsonAsync("/api/robot-cards/robot-perm", new { card.cardData, userIdPrivateData = new Dictionary<string, object> { ["r1"] = new { vote = "A" } } })).StatusCode);

        DingTalk.DenyPermissionNext(Put, "/v1.0/im/robots/interactiveCards", CardWrite, bodyContains: "robot-perm");
        var refused = await _api.PutAsJsonAsync(
            "/api/robot-cards/robot-perm",
            new { cardData = new { header = new { title = new { type = "text", text = "Lunch at 12" } } }, userIdPrivateData = new Dictionary<string, object> { ["r2"] = new { vote = "B" } } });
        await HttpAssert.ProblemAsync(refused, HttpStatusCode.BadGateway);

        Assert.Equal(HttpStatusCode.NoContent, (await _api.PostAsync("/api/robot-cards/robot-perm/resend", null)).StatusCode);

        var shown = DingTalk.FindRobotCard("robot-perm")!;
        Assert.Contains("Lunch at 12", shown.CardData, StringComparison.Ordinal);
        var users = JsonSerializer.Deserialize<Dictionary<string, Dictionary<string, string>>>(shown.UserIdPrivateDataMap!)!;
        Assert.Equal(("A", "B"), (users["r1"]["vote"], users["r2"]["vote"]));
        Assert.Equal(0, await DeadUpdatesListedAsync("robot-perm"));
    }

    [Fact]
    public async Task A_resend_DingTalk_still_refuses_answers_its_refusal_and_the_dead_letters_keep_counting()
    {
        await HttpAssert.JsonAsync(await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "perm-still", openConversationId = "cidR==", cardData = new { n = 0 } }), HttpStatusCode.Created);
        DingTalk.DenyPermissionNext(Put, "/v1.0/card/instances", CardWrite, times: 2, bodyContains: "perm-still");
        await HttpAssert.ProblemAsync(await _api.PutAsJsonAsync("/api/cards/perm-still", new { cardData = new { n = 1 } }), HttpStatusCode.BadGateway);

        var resent = await HttpAssert.ProblemAsync(await _api.PostAsync("/api/cards/perm-still/resend", null), HttpStatusCode.BadGateway); // not granted yet

        Assert.Equal(CardWrite, resent.GetProperty("requiredScopes").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(2, await DeadUpdatesListedAsync("perm-still")); // the update's and the resend's own
    }

    [Fact]
    public async Task An_id_with_no_stored_card_has_nothing_to_resend_and_its_dead_letters_are_dismissed_instead()
    {
        using var gauge = Collect("cardgateway.outbox.entries");
        // Another system's card, which DingTalk does not know (any more): the update is dead-lettered.
        DingTalk.FailNext(Put, "/v1.0/card/instances", 400, "param.cardNotExist", "card does not exist", bodyContains: "foreign-1");
        await HttpAssert.ProblemAsync(await _api.PutAsJsonAsync("/api/cards/foreign-1", new { cardData = new { n = 1 } }), HttpStatusCode.NotFound);
        await Eventually.TrueAsync(() => Dead(gauge) == 1, "the dead letter on the gauge");

        var nothing = await HttpAssert.ProblemAsync(await _api.PostAsync("/api/cards/foreign-1/resend", null), HttpStatusCode.NotFound);
        Assert.Equal("Nothing to resend", nothing.GetProperty("title").GetString());
        Assert.Contains("DELETE /api/cards/foreign-1/dead-letters", nothing.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var dismissed = await HttpAssert.JsonAsync(await _api.DeleteAsync("/api/cards/foreign-1/dead-letters"), HttpStatusCode.OK);

        Assert.Equal(1, dismissed.GetProperty("dismissed").GetInt32());
        await Eventually.TrueAsync(() => Dead(gauge) == 0, "the dismissed dead letter off the gauge");
        await HttpAssert.ProblemAsync(await _api.GetAsync("/api/cards/foreign-1"), HttpStatusCode.NotFound); // nothing undelivered left to show
        await HttpAssert.ProblemAsync(await _api.DeleteAsync("/api/cards/foreign-1/dead-letters"), HttpStatusCode.NotFound); // none left to dismiss
        var logged = Assert.Single(_gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 4109);
        Assert.Contains("dismissed 1 dead-lettered updates", logged.RenderMessage(), StringComparison.Ordinal);
        Assert.Contains("foreign-1", logged.RenderMessage(), StringComparison.Ordinal);
        Assert.DoesNotContain(GatewayFactory.AdminKey, logged.RenderMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Each_kind_of_card_is_resent_through_its_own_route_only()
    {
        await HttpAssert.JsonAsync(await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "kind-a", openConversationId = "cidR==" }), HttpStatusCode.Created);
        await HttpAssert.JsonAsync(await _api.PostAsJsonAsync("/api/robot-cards", new { cardBizId = "kind-r", openConversationId = "cidR==", cardData = new { contents = Array.Empty<object>() } }), HttpStatusCode.Created);
        var puts = DingTalk.Requests.Count(r => r.Method == "PUT");

        var asRobot = await HttpAssert.ProblemAsync(await _api.PostAsync("/api/robot-cards/kind-a/resend", null), HttpStatusCode.Conflict);
        var asAdvanced = await HttpAssert.ProblemAsync(await _api.PostAsync("/api/cards/kind-r/resend", null), HttpStatusCode.Conflict);

        Assert.Equal("kind-a is an advanced card: resend it with POST /api/cards/kind-a/resend.", asRobot.GetProperty("detail").GetString());
        Assert.Equal("kind-r is a normal robot card: resend it with POST /api/robot-cards/kind-r/resend.", asAdvanced.GetProperty("detail").GetString());
        Assert.Equal(puts, DingTalk.Requests.Count(r => r.Method == "PUT"));
    }

    [Theory]
    [InlineData("POST", "/api/cards/x/resend")]
    [InlineData("POST", "/api/robot-cards/x/resend")]
    [InlineData("POST", "/api/cards/resend?undelivered=dead")]
    [InlineData("DELETE", "/api/cards/x/dead-letters")]
    public async Task The_recovery_routes_need_an_admin_key(string method, string path)
    {
        using var anonymous = _gateway.CreateClient();

        var response = await anonymous.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        await HttpAssert.ProblemAsync(response, HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData("POST", "/api/cards/%01%0A/resend", HttpStatusCode.NotFound)]
    [InlineData("POST", "/api/robot-cards/..%2F/resend", HttpStatusCode.NotFound)]
    [InlineData("POST", "/api/cards/%E2%80%AE%F0%9F%92%A5/resend", HttpStatusCode.NotFound)]
    [InlineData("DELETE", "/api/cards/%01%0A/dead-letters", HttpStatusCode.NotFound)]
    [InlineData("POST", "/api/cards/resend", HttpStatusCode.BadRequest)]
    [InlineData("POST", "/api/cards/resend?undelivered=pending", HttpStatusCode.BadRequest)]
    [InlineData("POST", "/api/cards/resend?undelivered=dead&limit=0", HttpStatusCode.BadRequest)]
    [InlineData("POST", "/api/cards/resend?undelivered=dead&limit=lots", HttpStatusCode.BadRequest)]
    public async Task Hostile_ids_and_queries_are_answered_with_a_problem_never_a_500(string method, string path, HttpStatusCode expected)
    {
        var response = await _api.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = JsonContent.Create(new { surprise = true }) });

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Every_card_with_dead_letters_is_resent_a_page_at_a_time()
    {
        using var gauge = Collect("cardgateway.outbox.entries");
        string[] cards = ["bulk-1", "bulk-2", "bulk-3"];
        foreach (var card in cards)
        {
            await HttpAssert.JsonAsync(await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = card, openConversationId = "cidR==" }), HttpStatusCode.Created);
            DingTalk.DenyPermissionNext(Put, "/v1.0/card/instances", CardWrite, bodyContains: card);
            await HttpAssert.ProblemAsync(await _api.PutAsJsonAsync($"/api/cards/{card}", new { cardData = new { lost = card } }), HttpStatusCode.BadGateway);
        }

        await HttpAssert.JsonAsync(await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "bulk-fine", openConversationId = "cidR==" }), HttpStatusCode.Created);
        await Eventually.TrueAsync(() => Dead(gauge) == 3, "three dead letters on the gauge");

        var first = await HttpAssert.JsonAsync(await _api.PostAsync("/api/cards/resend?undelivered=dead&limit=2", null), HttpStatusCode.Accepted);
        var second = await HttpAssert.JsonAsync(await _api.PostAsync($"/api/cards/resend?undelivered=dead&limit=2&after={first.GetProperty("next").GetString()}", null), HttpStatusCode.Accepted);

        Assert.Equal(["bulk-1", "bulk-2"], first.GetProperty("cards").EnumerateArray().Select(c => c.GetProperty("id").GetString()));
        Assert.Equal(["bulk-3"], second.GetProperty("cards").EnumerateArray().Select(c => c.GetProperty("id").GetString()));
        Assert.False(second.TryGetProperty("next", out _)); // the last page: null, left out as every null is
        await Eventually.TrueAsync(() => Dead(gauge) == 0, "every dead letter resolved by its card's resend");
        Assert.All(cards, card => Assert.Equal(card, DingTalk.FindCard(card)!.CardData["lost"]));
        Assert.Empty(await ListedAsync("/api/cards?undelivered=dead"));
        var pages = _gateway.LogEvents.Where(e => CardCallbackEndpointTests.EventId(e) == 4111).Select(e => e.RenderMessage()).ToList();
        Assert.Equal(2, pages.Count);
        Assert.EndsWith("queued resends of 2 cards with dead-lettered updates (the first page)", pages[0], StringComparison.Ordinal);
        Assert.EndsWith($"queued resends of 1 cards with dead-lettered updates (the page after {first.GetProperty("next").GetString()})", pages[1], StringComparison.Ordinal);
    }

    private MetricCollector<long> Collect(string instrument) =>
        new(_gateway.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), GatewayMetrics.MeterName, instrument);

    /// <summary>The gauge's latest count of dead entries, or -1 before it has one.</summary>
    private static long Dead(MetricCollector<long> gauge)
    {
        gauge.RecordObservableInstruments();
        return gauge.GetMeasurementSnapshot().LastOrDefault(m => (string?)m.Tags["status"] == "dead")?.Value ?? -1;
    }

    /// <summary>The card's <c>deadUpdates</c> in <c>GET /api/cards</c>.</summary>
    private async Task<long> DeadUpdatesListedAsync(string id)
    {
        var page = await HttpAssert.JsonAsync(await _api.GetAsync("/api/cards?limit=500"), HttpStatusCode.OK);
        return page.GetProperty("cards").EnumerateArray().Single(c => c.GetProperty("id").GetString() == id).GetProperty("deadUpdates").GetInt64();
    }

    private async Task<List<string?>> ListedAsync(string path) =>
        (await HttpAssert.JsonAsync(await _api.GetAsync(path), HttpStatusCode.OK)).GetProperty("cards").EnumerateArray().Select(c => c.GetProperty("id").GetString()).ToList();
}
