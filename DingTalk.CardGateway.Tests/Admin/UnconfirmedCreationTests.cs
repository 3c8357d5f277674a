using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace DingTalk.CardGateway.Tests.Admin;

/// <summary>
/// A card whose creation DingTalk has not confirmed (stored unconfirmed): an update the operator makes meanwhile is
/// neither lost from the store nor from DingTalk, whichever send DingTalk creates the card from, and whenever DingTalk
/// answers the update.
/// </summary>
public class UnconfirmedCreationTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>
{
    private const string CreatePath = "/v1.0/card/instances/createAndDeliver";
    private const string RobotSendPath = "/v1.0/im/v1.0/robot/interactiveCards/send";

    private Sandbox.SandboxState DingTalk => fixture.DingTalk.State;

    [Fact]
    public Task An_update_made_while_a_cards_creation_is_unconfirmed_outlives_the_send_sent_again_on_SQLite() =>
        OnSqliteAsync(api => UpdateOutlivesTheSendSentAgainAsync(api, "resent-sqlite"));

    [SkippableFact]
    public Task An_update_made_while_a_cards_creation_is_unconfirmed_outlives_the_send_sent_again_on_PostgreSQL() =>
        OnPostgresAsync(api => UpdateOutlivesTheSendSentAgainAsync(api, "resent-postgres"));

    [Fact]
    public Task An_update_made_while_a_robot_cards_send_is_unconfirmed_outlives_the_send_sent_again_on_SQLite() =>
        OnSqliteAsync(api => RobotUpdateOutlivesTheSendSentAgainAsync(api, "resent-robot-sqlite"));

    [SkippableFact]
    public Task An_update_made_while_a_robot_cards_send_is_unconfirmed_outlives_the_send_sent_again_on_PostgreSQL() =>
        OnPostgresAsync(api => RobotUpdateOutlivesTheSendSentAgainAsync(api, "resent-robot-postgres"));

    [Fact]
    public Task An_update_refused_as_unknown_while_the_card_was_being_created_waits_for_it_when_the_answer_comes_after_the_creation_on_SQLite() =>
        OnSqliteAsync(api => UpdateAnsweredAfterTheCreationWaitsAsync(api, "late-answer-sqlite"));

    [SkippableFact]
    public Task An_update_refused_as_unknown_while_the_card_was_being_created_waits_for_it_when_the_answer_comes_after_the_creation_on_PostgreSQL() =>
        OnPostgresAsync(api => UpdateAnsweredAfterTheCreationWaitsAsync(api, "late-answer-postgres"));

    [Fact]
    public Task An_update_of_an_id_queued_before_its_card_is_sent_is_in_the_stored_card_as_at_DingTalk_on_SQLite() =>
        OnSqliteAsync(api => UpdateQueuedBeforeTheSendAsync(api, "put-first-sqlite"));

    [SkippableFact]
    public Task An_update_of_an_id_queued_before_its_card_is_sent_is_in_the_stored_card_as_at_DingTalk_on_PostgreSQL() =>
        OnPostgresAsync(api => UpdateQueuedBeforeTheSendAsync(api, "put-first-postgres"));

    /// <summary>
    /// An operator updates an id the gateway has no card for yet (allowed: another system's card), DingTalk is down for
    /// it (503), and the card is then sent under that id. The queued update reaches the card DingTalk creates, so the
    /// stored card — what GET shows, what handlers and a refresh read — must have it too.
    /// </summary>
    private async Task UpdateQueuedBeforeTheSendAsync(HttpClient api, string id)
    {
        DingTalk.FailNext(HttpMethod.Put, "/v1.0/card/instances", 503, "ServiceUnavailable", times: 10_000, retryAfterSeconds: 0, bodyContains: id);
        try
        {
            var updating = api.PutAsJsonAsync($"/api/cards/{id}", new { cardData = new { n = "put" }, privateData = new { u1 = new { seen = "put" } } });
            await Eventually.TrueAsync(() => DingTalk.RequestsTo("/v1.0/card/instances").Any(r => r.Method == "PUT" && r.Body.Contains(id, StringComparison.Ordinal)), "the update tried, and retried");

            await HttpAssert.JsonAsync(
                await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = id, openConversationId = "cidR==", cardData = new { n = 0, title = "T" } }),
                HttpStatusCode.Created);
            Assert.Equal("put", DingTalk.FindCard(id)!.CardData["n"]); // created as stored, the update still waiting: as GET shows it
            DingTalk.ClearFaults();

            Assert.Contains((await updating).StatusCode, new[] { HttpStatusCode.NoContent, HttpStatusCode.Accepted });
            await Eventually.TrueAsync(async () => await UndeliveredAsync(api, id) == 0, "the update delivered to the card");
            var atDingTalk = DingTalk.FindCard(id)!;
            Assert.Equal("put", atDingTalk.CardData["n"]);
            Assert.Equal("T", atDingTalk.CardData["title"]);
            var stored = (await StoredAsync(api, id))!.Value;
            Assert.Equal("put", stored.GetProperty("publicData").GetProperty("n").GetString()); // as DingTalk shows it
            Assert.Equal("T", stored.GetProperty("publicData").GetProperty("title").GetString());
            Assert.Equal(atDingTalk.PrivateData["u1"]["seen"], stored.GetProperty("privateData").GetProperty("u1").GetProperty("seen").GetString());
        }
        finally
        {
            DingTalk.ClearFaults();
        }
    }

    [Fact]
    public Task A_robot_card_update_queued_before_its_card_is_sent_is_in_the_stored_card_as_at_DingTalk_on_SQLite() =>
        OnSqliteAsync(api => RobotUpdateQueuedBeforeTheSendAsync(api, "robot-put-first-sqlite"));

    [SkippableFact]
    public Task A_robot_card_update_queued_before_its_card_is_sent_is_in_the_stored_card_as_at_DingTalk_on_PostgreSQL() =>
        OnPostgresAsync(api => RobotUpdateQueuedBeforeTheSendAsync(api, "robot-put-first-postgres"));

    /// <summary>As above for a normal robot card: updated while DingTalk is down for it, then sent.</summary>
    private async Task RobotUpdateQueuedBeforeTheSendAsync(HttpClient api, string id)
    {
        DingTalk.FailNext(HttpMethod.Put, "/v1.0/im/robots/interactiveCards", 503, "ServiceUnavailable", times: 10_000, retryAfterSeconds: 0, bodyContains: id);
        try
        {
            var updating = api.PutAsJsonAsync($"/api/robot-cards/{id}", new { cardData = new { title = "put" } });
            await Eventually.TrueAsync(() => DingTalk.RequestsTo("/v1.0/im/robots/interactiveCards").Any(r => r.Method == "PUT" && r.Body.Contains(id, StringComparison.Ordinal)), "the update tried, and retried");

            await HttpAssert.JsonAsync(
                await api.PostAsJsonAsync("/api/robot-cards", new { cardBizId = id, openConversationId = "cidR==", cardData = new { contents = Array.Empty<object>(), title = "T", footer = "F" } }),
                HttpStatusCode.Created);
            Assert.Contains("\"title\":\"put\"", DingTalk.FindRobotCard(id)!.CardData, StringComparison.Ordinal); // sent as stored, the update still waiting
            DingTalk.ClearFaults();

            Assert.Contains((await updating).StatusCode, new[] { HttpStatusCode.NoContent, HttpStatusCode.Accepted });
            await Eventually.TrueAsync(async () => await UndeliveredAsync(api, id) == 0, "the update delivered to the card");
            Assert.Contains("\"title\":\"put\"", DingTalk.FindRobotCard(id)!.CardData, StringComparison.Ordinal);
            Assert.Contains("\"footer\":\"F\"", DingTalk.FindRobotCard(id)!.CardData, StringComparison.Ordinal);
            var stored = await StoredAsync(api, id);
            Assert.Equal("put", RobotTitle(stored)); // as DingTalk shows it
            Assert.Contains("\"footer\":\"F\"", stored!.Value.GetProperty("publicData").GetProperty("cardData").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            DingTalk.ClearFaults();
        }
    }

    /// <summary>
    /// On PostgreSQL an update of an id with no card stored finds no row, and its outbox entry commits a moment later: a
    /// send of that id storing its card in between must not miss it — the entry reaches the card DingTalk creates.
    /// </summary>
    [SkippableFact]
    public Task An_update_that_found_no_card_and_commits_after_a_send_of_the_id_began_is_in_the_stored_card_on_PostgreSQL() =>
        PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            const string Id = "put-raced-postgres";
            await using var gateway = new GatewayFactory(
                fixture.DingTalk, GatewayFactory.PostgresSettings(connectionString, new Dictionary<string, string?> { ["DingTalk:Outbound:MaxRetryAttempts"] = "1" }));
            var pause = new UpdatePause(Id);
            await using var pausing = gateway.WithWebHostBuilder(builder => builder.ConfigureTestServices(services => PausingCardStore.Replace(services, pause)));
            using var api = pausing.CreateClient();
            api.DefaultRequestHeaders.Add(CardGateway.Admin.ApiKeyAuthenticationHandler.HeaderName, GatewayFactory.AdminKey);

            // The update has found no card; before its entry commits, the card is sent and gets as far as storing itself
            // (or, if storing waits for the update, two seconds pass). DingTalk is down for the update until the card is
            // created: its refusal of an update of a card not there yet is not what this is about.
            DingTalk.FailNext(HttpMethod.Put, "/v1.0/card/instances", 503, "ServiceUnavailable", times: 10_000, retryAfterSeconds: 0, bodyContains: Id);
            Task<HttpResponseMessage>? sending = null;
            pause.Between = async () =>
            {
                sending = api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = Id, openConversationId = "cidR==", cardData = new { n = 0, title = "T" } });
                await Task.WhenAny(pause.Stored.Task, Task.Delay(TimeSpan.FromSeconds(2)));
            };
            var updating = api.PutAsJsonAsync($"/api/cards/{Id}", new { cardData = new { n = "put" } });

            try
            {
                await Eventually.TrueAsync(() => sending is not null, "the update paused");
                await HttpAssert.JsonAsync(await sending!, HttpStatusCode.Created);
            }
            finally
            {
                DingTalk.ClearFaults();
            }

            Assert.Contains((await updating).StatusCode, new[] { HttpStatusCode.NoContent, HttpStatusCode.Accepted });
            await Eventually.TrueAsync(async () => await UndeliveredAsync(api, Id) == 0, "the update delivered to the card");
            Assert.Equal("put", DingTalk.FindCard(Id)!.CardData["n"]);
            var stored = (await StoredAsync(api, Id))!.Value.GetProperty("publicData");
            Assert.Equal("put", stored.GetProperty("n").GetString()); // as DingTalk shows it
            Assert.Equal("T", stored.GetProperty("title").GetString());
        });

    /// <summary>Where <see cref="PausingCardStore"/> holds an update of <see cref="Id"/> that found no card, and what runs meanwhile.</summary>
    private sealed class UpdatePause(string id)
    {
        public string Id => id;

        public Func<Task>? Between { get; set; }

        /// <summary>Set once a send of <see cref="Id"/> has stored its card.</summary>
        public TaskCompletionSource Stored { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Paused;
    }

    /// <summary>The card store, but the first update of the pause's id that finds no card runs the pause's work before it goes on to queue its entry.</summary>
    private sealed class PausingCardStore(ICardStore inner, UpdatePause pause) : DelegatingCardStore(inner)
    {
        public static void Replace(IServiceCollection services, UpdatePause pause)
        {
            services.RemoveAll<ICardStore>();
            services.AddScoped<ICardStore>(sp => new PausingCardStore(ActivatorUtilities.CreateInstance<CardGateway.Storage.Sql.SqlCardStore>(sp), pause));
        }

        public override async Task<CardRecord?> ApplyUpdateAsync(string id, CardDataChange change, CancellationToken cancellationToken)
        {
            var stored = await Inner.ApplyUpdateAsync(id, change, cancellationToken);
            if (stored is null && id == pause.Id && Interlocked.Exchange(ref pause.Paused, 1) == 0 && pause.Between is { } between)
            {
                await between();
            }

            return stored;
        }

        public override async Task<CardRecord?> TryAddUnconfirmedAsync(CardRecord card, CancellationToken cancellationToken)
        {
            var stored = await Inner.TryAddUnconfirmedAsync(card, cancellationToken);
            if (card.Id == pause.Id)
            {
                pause.Stored.TrySetResult();
            }

            return stored;
        }
    }

    /// <summary>
    /// DingTalk carries the update out before the card exists (param.cardNotExist) and its answer comes late, after the
    /// create's retry has made the card and the gateway confirmed it: the update left while the card was still being
    /// created, so it waits for the card and is sent again, not dead-lettered as an update of a card DingTalk forgot.
    /// </summary>
    private async Task UpdateAnsweredAfterTheCreationWaitsAsync(HttpClient api, string id)
    {
        DingTalk.FailNext(HttpMethod.Post, CreatePath, 503, "ServiceUnavailable", retryAfterSeconds: 1, bodyContains: id);
        var held = 0;
        fixture.DingTalk.AnswerDelay = (method, path) =>
            method == HttpMethod.Put && path == "/v1.0/card/instances" && Interlocked.Exchange(ref held, 1) == 0 ? TimeSpan.FromSeconds(3) : TimeSpan.Zero;
        try
        {
            var creating = api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = id, openConversationId = "cidR==", cardData = new { n = 0 } });
            await Eventually.TrueAsync(async () => await StoredAsync(api, id) is not null, "the card stored before DingTalk is asked");
            var updating = api.PutAsJsonAsync($"/api/cards/{id}", new { cardData = new { n = 1 } });
            await Eventually.TrueAsync(() => DingTalk.RequestsTo("/v1.0/card/instances").Any(r => r.Method == "PUT" && r.Body.Contains(id, StringComparison.Ordinal)), "the update carried out before the card exists");

            Assert.Equal(HttpStatusCode.Created, (await creating).StatusCode); // created by the create's retry, 1 s later, and confirmed

            Assert.Contains((await updating).StatusCode, new[] { HttpStatusCode.NoContent, HttpStatusCode.Accepted }); // not a dead letter's 404
            await Eventually.TrueAsync(() => DingTalk.FindCard(id)?.CardData.GetValueOrDefault("n") == "1", "the update delivered once the card exists");
            await Eventually.TrueAsync(async () => await UndeliveredAsync(api, id) == 0, "the update marked sent");
        }
        finally
        {
            fixture.DingTalk.AnswerDelay = null;
        }
    }

    /// <summary>
    /// DingTalk answers the create 503 (before doing anything) until the retries run out: the card is stored unconfirmed
    /// and DingTalk has none. The operator updates it (queued until the card exists) and sends it again, as the README
    /// says to after a 503; that send creates it. DingTalk and the store both end with the update.
    /// </summary>
    private async Task UpdateOutlivesTheSendSentAgainAsync(HttpClient api, string id)
    {
        DingTalk.FailNext(HttpMethod.Post, CreatePath, 503, "ServiceUnavailable", times: 2, retryAfterSeconds: 0, bodyContains: id);
        var send = new { cardTemplateId = "tpl", outTrackId = id, openConversationId = "cidR==", cardData = new { n = 0, title = "T" } };
        await HttpAssert.ProblemAsync(await api.PostAsJsonAsync("/api/cards", send), HttpStatusCode.ServiceUnavailable);
        Assert.Null(DingTalk.FindCard(id));

        var updating = api.PutAsJsonAsync($"/api/cards/{id}", new { cardData = new { n = 1 } });
        await Eventually.TrueAsync(async () => (await StoredAsync(api, id))?.GetProperty("publicData").GetProperty("n").GetString() == "1", "the update stored");

        var resent = await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/cards", send), HttpStatusCode.Created);

        Assert.True(resent.GetProperty("deliveryConfirmed").GetBoolean());
        Assert.Contains((await updating).StatusCode, new[] { HttpStatusCode.NoContent, HttpStatusCode.Accepted });
        await Eventually.TrueAsync(() => DingTalk.FindCard(id)?.CardData.GetValueOrDefault("n") == "1", "the update delivered once the card exists");
        await Eventually.TrueAsync(async () => await UndeliveredAsync(api, id) == 0, "the update marked sent");
        Assert.Equal("T", DingTalk.FindCard(id)!.CardData["title"]);
        var stored = (await StoredAsync(api, id))!.Value;
        Assert.True(stored.GetProperty("creationConfirmed").GetBoolean());
        Assert.Equal("1", stored.GetProperty("publicData").GetProperty("n").GetString()); // as DingTalk shows it: the update is not lost
        Assert.Equal("T", stored.GetProperty("publicData").GetProperty("title").GetString());
    }

    /// <summary>As above for a normal robot card: its send answered 503 (202, unconfirmed), updated, sent again with resendUnconfirmed.</summary>
    private async Task RobotUpdateOutlivesTheSendSentAgainAsync(HttpClient api, string id)
    {
        DingTalk.FailNext(HttpMethod.Post, RobotSendPath, 503, "ServiceUnavailable", bodyContains: id);
        var card = new { cardBizId = id, openConversationId = "cidR==", cardData = new { contents = Array.Empty<object>() } };
        await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/robot-cards", card), HttpStatusCode.Accepted);
        Assert.Null(DingTalk.FindRobotCard(id));

        var updating = api.PutAsJsonAsync($"/api/robot-cards/{id}", new { cardData = new { title = "T" } });
        await Eventually.TrueAsync(async () => RobotTitle(await StoredAsync(api, id)) == "T", "the update stored");

        var resent = await api.PostAsJsonAsync("/api/robot-cards", new { card.cardBizId, card.openConversationId, card.cardData, resendUnconfirmed = true });

        await HttpAssert.JsonAsync(resent, HttpStatusCode.Created);
        Assert.Contains((await updating).StatusCode, new[] { HttpStatusCode.NoContent, HttpStatusCode.Accepted });
        await Eventually.TrueAsync(() => DingTalk.FindRobotCard(id)?.CardData?.Contains("\"title\":\"T\"", StringComparison.Ordinal) == true, "the update delivered once the card exists");
        await Eventually.TrueAsync(async () => await UndeliveredAsync(api, id) == 0, "the update marked sent");
        var stored = await StoredAsync(api, id);
        Assert.True(stored!.Value.GetProperty("creationConfirmed").GetBoolean());
        Assert.Equal("T", RobotTitle(stored)); // as DingTalk shows it: the update is not lost
    }

    /// <summary>
    /// Sent again with other data, the card is still the earlier send's, as stored (its data with the update since): what
    /// DingTalk shows would otherwise depend on whether the earlier send had created it — and the store on neither.
    /// </summary>
    [Fact]
    public Task A_card_sent_again_with_other_data_is_created_as_stored_and_DingTalk_and_the_store_agree() =>
        OnSqliteAsync(async api =>
        {
            const string Id = "resent-other-data";
            DingTalk.FailNext(HttpMethod.Post, CreatePath, 503, "ServiceUnavailable", times: 2, retryAfterSeconds: 0, bodyContains: Id);
            await HttpAssert.ProblemAsync(
                await api.PostAsJsonAsync("/api/cards", new
                {
                    cardTemplateId = "tpl",
                    outTrackId = Id,
                    openConversationId = "cidR==",
                    cardData = new { n = 0, title = "T" },
                    privateData = new { u1 = new { seen = true } },
                }),
                HttpStatusCode.ServiceUnavailable);
            var updating = api.PutAsJsonAsync($"/api/cards/{Id}", new { cardData = new { n = 1 } });
            await Eventually.TrueAsync(async () => (await StoredAsync(api, Id))?.GetProperty("publicData").GetProperty("n").GetString() == "1", "the update stored");

            var resent = await api.PostAsJsonAsync("/api/cards", new
            {
                cardTemplateId = "tpl",
                outTrackId = Id,
                openConversationId = "cidR==",
                cardData = new { n = 0, title = "Other" },
                privateData = new { u1 = new { seen = false } },
            });

            await HttpAssert.JsonAsync(resent, HttpStatusCode.Created);
            await updating;
            await Eventually.TrueAsync(async () => await UndeliveredAsync(api, Id) == 0, "the update marked sent");
            Assert.Equal("T", DingTalk.FindCard(Id)!.CardData["title"]);
            Assert.Equal("1", DingTalk.FindCard(Id)!.CardData["n"]);
            Assert.Equal("true", DingTalk.FindCard(Id)!.PrivateData["u1"]["seen"]);
            var stored = (await StoredAsync(api, Id))!.Value.GetProperty("publicData");
            Assert.Equal("T", stored.GetProperty("title").GetString());
            Assert.Equal("1", stored.GetProperty("n").GetString());
            Assert.Equal("true", (await StoredAsync(api, Id))!.Value.GetProperty("privateData").GetProperty("u1").GetProperty("seen").GetString());
        });

    /// <summary>
    /// Another template or target under the id of an unconfirmed send is another card, which DingTalk would show or not
    /// depending on what became of the earlier send: refused, and DingTalk is not asked.
    /// </summary>
    [Fact]
    public Task A_card_sent_again_to_another_template_or_target_while_unconfirmed_is_a_409() =>
        OnSqliteAsync(async api =>
        {
            const string Id = "resent-elsewhere";
            const string RobotId = "resent-robot-elsewhere";
            DingTalk.FailNext(HttpMethod.Post, CreatePath, 503, "ServiceUnavailable", times: 2, retryAfterSeconds: 0, bodyContains: Id);
            DingTalk.FailNext(HttpMethod.Post, RobotSendPath, 503, "ServiceUnavailable", bodyContains: RobotId);
            await HttpAssert.ProblemAsync(
                await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = Id, openConversationId = "cidR==" }), HttpStatusCode.ServiceUnavailable);
            await HttpAssert.JsonAsync(
                await api.PostAsJsonAsync("/api/robot-cards", new { cardBizId = RobotId, openConversationId = "cidR==", cardData = new { contents = Array.Empty<object>() } }),
                HttpStatusCode.Accepted);
            var creates = DingTalk.RequestsTo(CreatePath).Count;
            var robotSends = DingTalk.RequestsTo(RobotSendPath).Count;

            var otherTemplate = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.other", outTrackId = Id, openConversationId = "cidR==" });
            var otherTarget = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = Id, openConversationId = "cidOther==" });
            var otherRobotTarget = await api.PostAsJsonAsync(
                "/api/robot-cards", new { cardBizId = RobotId, openConversationId = "cidOther==", cardData = new { contents = Array.Empty<object>() }, resendUnconfirmed = true });

            Assert.Contains("template tpl", (await HttpAssert.ProblemAsync(otherTemplate, HttpStatusCode.Conflict)).GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Contains("target dtv1.card//IM_GROUP.cidR==", (await HttpAssert.ProblemAsync(otherTarget, HttpStatusCode.Conflict)).GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Contains("target cidR==", (await HttpAssert.ProblemAsync(otherRobotTarget, HttpStatusCode.Conflict)).GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Equal(creates, DingTalk.RequestsTo(CreatePath).Count);
            Assert.Equal(robotSends, DingTalk.RequestsTo(RobotSendPath).Count);
            Assert.False((await StoredAsync(api, Id))!.Value.GetProperty("creationConfirmed").GetBoolean());
            Assert.Equal("tpl", (await StoredAsync(api, Id))!.Value.GetProperty("templateId").GetString());
        });

    [Theory]
    [InlineData("/api/cards")]
    [InlineData("/api/robot-cards")]
    public async Task A_send_of_a_new_id_that_another_send_of_it_stored_a_moment_ago_is_a_409_and_leaves_that_sends_card(string route)
    {
        var id = "raced-" + route[5..];
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?> { ["DingTalk:Outbound:MaxRetryAttempts"] = "1" });
        await using var racing = gateway.WithWebHostBuilder(builder => builder.ConfigureTestServices(services => RacingCardStore.Replace(services, id, route == "/api/cards" ? CardKind.Advanced : CardKind.Robot)));
        using var api = racing.CreateClient();
        api.DefaultRequestHeaders.Add(CardGateway.Admin.ApiKeyAuthenticationHandler.HeaderName, GatewayFactory.AdminKey);

        // This send finds no card under the id; before it stores its own, another send of the id stores one (RacingCardStore).
        using var response = route == "/api/cards"
            ? await api.PostAsJsonAsync(route, new { cardTemplateId = "tpl", outTrackId = id, openConversationId = "cidR==", cardData = new { n = "mine" } })
            : await api.PostAsJsonAsync(route, new { cardBizId = id, openConversationId = "cidR==", cardData = new { contents = Array.Empty<object>(), title = "mine" } });

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.Conflict);
        Assert.Contains("under way", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(DingTalk.RequestsTo(route == "/api/cards" ? CreatePath : RobotSendPath), r => r.Body.Contains(id, StringComparison.Ordinal));
        var stored = await StoredAsync(api, id);
        Assert.Equal(RacingCardStore.Theirs, stored!.Value.GetProperty("publicData").GetProperty("n").GetString()); // the other send's card, not overwritten
        Assert.False(stored.Value.GetProperty("creationConfirmed").GetBoolean());
    }

    /// <summary>
    /// The card store, but the first look for <c>id</c> that finds nothing lets another send of that id store its card
    /// right after, as a send running at the same moment would between this one's look and its own store.
    /// </summary>
    private sealed class RacingCardStore(ICardStore inner, string racedId, CardKind kind, StrongBox<bool> raced, TimeProvider clock) : DelegatingCardStore(inner)
    {
        public const string Theirs = "theirs";

        public static void Replace(IServiceCollection services, string id, CardKind kind)
        {
            var raced = new StrongBox<bool>();
            services.RemoveAll<ICardStore>();
            services.AddScoped<ICardStore>(sp => new RacingCardStore(
                ActivatorUtilities.CreateInstance<CardGateway.Storage.Sql.SqlCardStore>(sp), id, kind, raced, sp.GetRequiredService<TimeProvider>()));
        }

        public override async Task<CardRecord?> FindAsync(string id, CancellationToken cancellationToken)
        {
            var found = await Inner.FindAsync(id, cancellationToken);
            if (found is null && id == racedId && !raced.Value)
            {
                raced.Value = true;
                var now = clock.GetUtcNow();
                await Inner.SaveAsync(
                    new CardRecord
                    {
                        Id = id,
                        Kind = kind,
                        TemplateId = kind == CardKind.Advanced ? "tpl" : "StandardCard",
                        OpenSpaceId = kind == CardKind.Advanced ? "dtv1.card//IM_GROUP.cidR==" : "cidR==",
                        PublicData = new Dictionary<string, string> { ["n"] = Theirs },
                        Version = 1,
                        CreatedAt = now,
                        UpdatedAt = now,
                        CreationConfirmed = false,
                    },
                    cancellationToken);
            }

            return found;
        }
    }

    private static string? RobotTitle(JsonElement? stored) =>
        stored?.GetProperty("publicData").GetProperty("cardData").GetString() is { } json
        && JsonDocument.Parse(json).RootElement.TryGetProperty("title", out var title)
            ? title.GetString()
            : null;

    /// <summary>The card as <c>GET /api/cards/{id}</c> shows it, or null while the gateway has none.</summary>
    private static async Task<JsonElement?> StoredAsync(HttpClient api, string id)
    {
        using var response = await api.GetAsync($"/api/cards/{id}");
        return response.StatusCode == HttpStatusCode.OK
            && (await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).TryGetProperty("card", out var card)
            ? card
            : null;
    }

    private static async Task<int> UndeliveredAsync(HttpClient api, string id) =>
        (await HttpAssert.JsonAsync(await api.GetAsync($"/api/cards/{id}"), HttpStatusCode.OK)).GetProperty("undelivered").GetArrayLength();

    /// <summary>A gateway of its own (its circuit breaker must not count these failures for other tests), one retry per call.</summary>
    private async Task OnSqliteAsync(Func<HttpClient, Task> test)
    {
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?> { ["DingTalk:Outbound:MaxRetryAttempts"] = "1" });
        using var api = gateway.CreateAdminClient();
        await test(api);
    }

    private async Task OnPostgresAsync(Func<HttpClient, Task> test) =>
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            await using var gateway = new GatewayFactory(
                fixture.DingTalk, GatewayFactory.PostgresSettings(connectionString, new Dictionary<string, string?> { ["DingTalk:Outbound:MaxRetryAttempts"] = "1" }));
            using var api = gateway.CreateAdminClient();
            await test(api);
        });
}
