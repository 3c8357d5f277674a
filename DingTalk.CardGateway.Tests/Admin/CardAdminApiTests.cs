using System.Net;
using System.Net.Http.Json;
using System.Text;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace DingTalk.CardGateway.Tests.Admin;

/// <summary>An operator sending and updating cards through <c>/api</c>, against the strict fake DingTalk.</summary>
public class CardAdminApiTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>, IAsyncLifetime
{
    private readonly HttpClient _api = fixture.Gateway.CreateAdminClient();

    public Task InitializeAsync()
    {
        fixture.DingTalk.State.Reset();
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _api.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_card_sent_to_a_group_arrives_with_string_card_data()
    {
        var response = await _api.PostAsJsonAsync("/api/cards", new
        {
            cardTemplateId = "tpl.poll",
            outTrackId = "poll-1",
            openConversationId = "cidLunch==",
            cardData = new { title = "Lunch?", options = new[] { "noodles", "rice" }, open = true, limit = 2 },
            privateData = new Dictionary<string, object> { ["u1"] = new { myVote = "" } },
            atUserIds = new[] { "u1" },
        });

        var body = await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        Assert.Equal("poll-1", body.GetProperty("outTrackId").GetString());
        Assert.True(body.GetProperty("allDelivered").GetBoolean());
        Assert.Equal("/api/cards/poll-1", response.Headers.Location?.ToString());
        var card = fixture.DingTalk.State.FindCard("poll-1")!;
        Assert.Equal("""["noodles","rice"]""", card.CardData["options"]);
        Assert.Equal("true", card.CardData["open"]);
        Assert.Equal("2", card.CardData["limit"]);
        Assert.Equal("", card.PrivateData["u1"]["myVote"]);
        Assert.Equal("HTTP", card.CallbackType);
        Assert.Equal("test-route", card.CallbackRouteKey);
    }

    [Fact]
    public async Task A_card_without_outTrackId_gets_one_generated()
    {
        var response = await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", userIds = new[] { "u1", "u2" }, cardData = new { a = 1 } });

        var body = await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        var outTrackId = body.GetProperty("outTrackId").GetString()!;
        Assert.StartsWith("card-", outTrackId, StringComparison.Ordinal);
        Assert.Equal(2, fixture.DingTalk.State.FindCard(outTrackId)!.Deliveries.Count);
    }

    [Fact]
    public async Task A_delivery_refused_for_one_target_is_reported_per_target_not_as_success()
    {
        var response = await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", userIds = new[] { "u1", "illegal-user" }, cardData = new { a = 1 } });

        var body = await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        Assert.False(body.GetProperty("allDelivered").GetBoolean());
        var results = body.GetProperty("deliverResults").EnumerateArray().ToList();
        Assert.Equal(2, results.Count);
        var refused = Assert.Single(results, r => !r.GetProperty("success").GetBoolean());
        Assert.Contains("illegal", refused.GetProperty("errorMsg").GetString(), StringComparison.Ordinal);
        Assert.True(fixture.Gateway.LogEvents.Any(e => e.MessageTemplate.Text.Contains("was not delivered", StringComparison.Ordinal)), fixture.Gateway.RenderedLogs());
    }

    [Fact]
    public async Task Updates_merge_by_key_unless_replace_is_asked()
    {
        await SendAsync("upd-1", new { title = "T", total = 0 });

        var merged = await _api.PutAsJsonAsync("/api/cards/upd-1", new { cardData = new { total = 5 }, privateData = new Dictionary<string, object> { ["u1"] = new { myVote = "a" } } });
        Assert.Equal(HttpStatusCode.NoContent, merged.StatusCode);
        var card = fixture.DingTalk.State.FindCard("upd-1")!;
        Assert.Equal("T", card.CardData["title"]);
        Assert.Equal("5", card.CardData["total"]);
        Assert.Equal("a", card.PrivateData["u1"]["myVote"]);

        var replaced = await _api.PutAsJsonAsync("/api/cards/upd-1", new { cardData = new { total = 6 }, replace = true });
        Assert.Equal(HttpStatusCode.NoContent, replaced.StatusCode);
        card = fixture.DingTalk.State.FindCard("upd-1")!;
        Assert.False(card.CardData.ContainsKey("title"));
        Assert.Equal("6", card.CardData["total"]);

        var stored = await HttpAssert.JsonAsync(await _api.GetAsync("/api/cards/upd-1"), HttpStatusCode.OK);
        var publicData = stored.GetProperty("card").GetProperty("publicData");
        Assert.Equal("6", publicData.GetProperty("total").GetString());
        Assert.False(publicData.TryGetProperty("title", out _));
        Assert.Empty(stored.GetProperty("undelivered").EnumerateArray());
    }

    [Fact]
    public async Task Streaming_sends_a_fresh_guid_per_frame()
    {
        await SendAsync("stream-1", new { content = "" });

        foreach (var (text, final) in new[] { ("He", false), ("Hello", false), ("Hello!", true) })
        {
            var r = await _api.PostAsJsonAsync("/api/cards/stream-1/stream", new { key = "content", content = text, isFinalize = final });
            Assert.Equal(HttpStatusCode.NoContent, r.StatusCode);
        }

        var card = fixture.DingTalk.State.FindCard("stream-1")!;
        Assert.Equal(3, card.StreamingFrames.Select(f => f.Guid).Distinct().Count());
        Assert.All(card.StreamingFrames, f => Assert.True(f.IsFull));
        Assert.Equal("Hello!", card.StreamingText("content"));
        Assert.True(card.IsStreamingFinalized("content"));
    }

    [Fact]
    public async Task Updating_a_card_DingTalk_does_not_know_is_a_404_with_DingTalks_code()
    {
        var response = await _api.PutAsJsonAsync("/api/cards/ghost", new { cardData = new { a = 1 } });

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Equal("param.cardNotExist", problem.GetProperty("dingTalkCode").GetString());
    }

    [Fact]
    public async Task A_robot_card_gets_a_callback_url_the_gateway_can_verify()
    {
        var response = await _api.PostAsJsonAsync("/api/robot-cards", new
        {
            cardBizId = "biz-42",
            openConversationId = "cidRobot==",
            cardData = new { header = new { title = new { type = "text", text = "Deploy?" } }, contents = Array.Empty<object>() },
        });

        var body = await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        Assert.Equal("biz-42", body.GetProperty("cardBizId").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("processQueryKey").GetString()));
        var card = fixture.DingTalk.State.FindRobotCard("biz-42")!;
        Assert.StartsWith(GatewayFactory.PublicBaseUrl + RobotCardCallbackToken.RoutePrefix, card.CallbackUrl, StringComparison.Ordinal);
        var token = card.CallbackUrl![(GatewayFactory.PublicBaseUrl + RobotCardCallbackToken.RoutePrefix).Length..];
        Assert.Equal(TokenCheck.Valid, RobotCardCallbackToken.Verify("biz-42", token, GatewayFactory.ApiSecret));
        Assert.Equal(TokenCheck.Mismatch, RobotCardCallbackToken.Verify("biz-43", token, GatewayFactory.ApiSecret));
        Assert.Equal("test-robot", card.RobotCode);

        var update = await _api.PutAsJsonAsync("/api/robot-cards/biz-42", new { cardData = new { header = new { title = new { type = "text", text = "Deployed" } } } });
        Assert.Equal(HttpStatusCode.NoContent, update.StatusCode);
        Assert.Contains("Deployed", fixture.DingTalk.State.FindRobotCard("biz-42")!.CardData, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_update_through_the_other_kinds_route_is_refused_and_changes_nothing()
    {
        await SendAsync("kind-advanced", new { n = 1 });
        await HttpAssert.JsonAsync(await _api.PostAsJsonAsync("/api/robot-cards", new { cardBizId = "kind-robot", openConversationId = "cidRobot==", cardData = new { contents = Array.Empty<object>() } }), HttpStatusCode.Created);

        var before = await StoredDataAsync("kind-advanced") + await StoredDataAsync("kind-robot");

        var asRobot = await HttpAssert.ProblemAsync(await _api.PutAsJsonAsync("/api/robot-cards/kind-advanced", new { cardData = new { x = "1" } }), HttpStatusCode.Conflict);
        var asAdvanced = await HttpAssert.ProblemAsync(await _api.PutAsJsonAsync("/api/cards/kind-robot", new { cardData = new { x = "1" } }), HttpStatusCode.Conflict);

        Assert.Equal("kind-advanced is an advanced card: update it with PUT /api/cards/kind-advanced.", asRobot.GetProperty("detail").GetString());
        Assert.Equal("kind-robot is a normal robot card: update it with PUT /api/robot-cards/kind-robot.", asAdvanced.GetProperty("detail").GetString());
        Assert.Equal(before, await StoredDataAsync("kind-advanced") + await StoredDataAsync("kind-robot")); // nothing stored, nothing queued
    }

    [Fact]
    public async Task A_frame_streamed_into_a_robot_card_is_a_409_naming_its_route_not_a_card_DingTalk_does_not_know()
    {
        await HttpAssert.JsonAsync(await _api.PostAsJsonAsync("/api/robot-cards", new { cardBizId = "stream-robot", openConversationId = "cidRobot==", cardData = new { contents = Array.Empty<object>() } }), HttpStatusCode.Created);

        var response = await _api.PostAsJsonAsync("/api/cards/stream-robot/stream", new { key = "content", content = "Hello" });

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.Conflict);
        Assert.Equal("stream-robot is a normal robot card: update it with PUT /api/robot-cards/stream-robot.", problem.GetProperty("detail").GetString());
        Assert.Empty(fixture.DingTalk.State.RequestsTo("/v1.0/card/streaming"));
    }

    /// <summary>
    /// The route's look at the id is a plain read: on PostgreSQL a send of the other kind may store a card under the id
    /// between it and the update's lock on the id. The card as the update locked it decides: 409, and that card as it was.
    /// </summary>
    [SkippableTheory]
    [InlineData("/api/cards", "/api/robot-cards")]
    [InlineData("/api/robot-cards", "/api/cards")]
    public Task An_update_through_one_kinds_route_while_the_other_kind_is_sent_under_its_id_is_a_409_and_changes_nothing_on_PostgreSQL(string updated, string sent) =>
        PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            var id = "kind-raced-" + updated[5..];
            await using var gateway = new GatewayFactory(fixture.DingTalk, GatewayFactory.PostgresSettings(connectionString));
            var race = new SendBetween(id);
            await using var racing = gateway.WithWebHostBuilder(builder => builder.ConfigureTestServices(services => SendBetweenLookAndUpdate.Replace(services, race)));
            using var api = racing.CreateClient();
            api.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, GatewayFactory.AdminKey);
            race.Send = async () => await HttpAssert.JsonAsync(
                sent == "/api/cards"
                    ? await api.PostAsJsonAsync(sent, new { cardTemplateId = "tpl", outTrackId = id, openConversationId = "cidX==", cardData = new { n = 1 } })
                    : await api.PostAsJsonAsync(sent, new { cardBizId = id, openConversationId = "cidRobot==", cardData = new { contents = Array.Empty<object>() } }),
                HttpStatusCode.Created);

            // The update looks, finds no card, and the other kind's card is sent (stored and confirmed) before it goes on.
            var response = await api.PutAsJsonAsync($"{updated}/{id}", new { cardData = new { x = "1" } });

            Assert.True(race.Sent, "the other kind's card was sent between the update's look and its change");
            await HttpAssert.ProblemAsync(response, HttpStatusCode.Conflict);
            var state = await HttpAssert.JsonAsync(await api.GetAsync($"/api/cards/{id}"), HttpStatusCode.OK);
            var card = state.GetProperty("card");
            Assert.Equal(1, card.GetProperty("version").GetInt64()); // as sent: nothing of the update stored in it
            Assert.Empty(state.GetProperty("undelivered").EnumerateArray());
            Assert.Equal(sent == "/api/cards" ? ["n"] : ["cardData"], card.GetProperty("publicData").EnumerateObject().Select(p => p.Name));
        });

    /// <summary>What runs between the update's look at <see cref="Id"/> and its change: the other kind's send.</summary>
    private sealed class SendBetween(string id)
    {
        public string Id => id;

        public Func<Task>? Send { get; set; }

        public bool Sent { get; set; }

        public int Taken;
    }

    /// <summary>The card store, but the first look at the race's id inside a transaction (the update's) that finds nothing runs the send before it answers.</summary>
    private sealed class SendBetweenLookAndUpdate(ICardStore inner, SendBetween race, StorageSession session) : DelegatingCardStore(inner)
    {
        public static void Replace(IServiceCollection services, SendBetween race)
        {
            services.RemoveAll<ICardStore>();
            services.AddScoped<ICardStore>(sp => new SendBetweenLookAndUpdate(
                ActivatorUtilities.CreateInstance<SqlCardStore>(sp), race, sp.GetRequiredService<StorageSession>()));
        }

        public override async Task<CardRecord?> FindAsync(string id, CancellationToken cancellationToken)
        {
            var found = await Inner.FindAsync(id, cancellationToken);
            if (found is null && id == race.Id && session.InTransaction && Interlocked.Exchange(ref race.Taken, 1) == 0 && race.Send is { } send)
            {
                await send();
                race.Sent = true;
            }

            return found;
        }
    }

    /// <summary>A card's stored public data and its undelivered updates, as text.</summary>
    private async Task<string> StoredDataAsync(string id)
    {
        var state = await HttpAssert.JsonAsync(await _api.GetAsync($"/api/cards/{id}"), HttpStatusCode.OK);
        return state.GetProperty("card").GetProperty("publicData").GetRawText() + state.GetProperty("undelivered").GetRawText();
    }

    [Fact]
    public async Task An_HTTP_callback_card_is_refused_where_no_callback_secret_could_verify_its_clicks()
    {
        await using var streamOnly = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?>
        {
            ["DingTalk:Stream:Enabled"] = "true",
            ["DingTalk:Callback:ApiSecret"] = "", // a Stream deployment needs no callback secret
        });
        using var api = streamOnly.CreateAdminClient();

        var http = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "http-on-stream", openConversationId = "cidX==", callbackType = "HTTP" });

        var problem = await HttpAssert.ProblemAsync(http, HttpStatusCode.BadRequest);
        Assert.Contains("no DingTalk:Callback:ApiSecret to verify them", problem.GetProperty("errors").GetProperty("callbackType")[0].GetString(), StringComparison.Ordinal);
        Assert.Null(fixture.DingTalk.State.FindCard("http-on-stream")); // nothing sent
    }

    [Fact]
    public async Task A_robot_cards_location_answers_with_the_card_as_stored()
    {
        var response = await _api.PostAsJsonAsync("/api/robot-cards", new { cardBizId = "biz-loc", openConversationId = "cidRobot==", cardData = new { contents = Array.Empty<object>() } });
        await HttpAssert.JsonAsync(response, HttpStatusCode.Created);

        var stored = await HttpAssert.JsonAsync(await _api.GetAsync(response.Headers.Location), HttpStatusCode.OK);

        Assert.Equal("/api/robot-cards/biz-loc", response.Headers.Location!.OriginalString);
        Assert.Equal("biz-loc", stored.GetProperty("card").GetProperty("id").GetString());
    }

    [Theory]
    [InlineData("{\"cardTemplateId\":\"tpl\",\"cardData\":{}}", "openConversationId")]
    [InlineData("{\"cardTemplateId\":\"tpl\",\"openConversationId\":\"cid\",\"userIds\":[\"u1\"]}", "openConversationId")]
    [InlineData("{\"openConversationId\":\"cid\"}", "cardTemplateId")]
    [InlineData("{\"cardTemplateId\":\"tpl\",\"openConversationId\":\"cid\",\"callbackType\":\"SMS\"}", "callbackType")]
    [InlineData("{\"cardTemplateId\":\"tpl\",\"openConversationId\":\"cid\",\"outTrackId\":\"has space\"}", "outTrackId")]
    [InlineData("{\"cardTemplateId\":\"tpl\",\"openConversationId\":\"cid\",\"outTrackId\":\"nul\\u0000\"}", "outTrackId")]
    [InlineData("{\"cardTemplateId\":\"tpl\",\"openConversationId\":\"cid\",\"cardData\":{\"a\":\"x\\ud800\"}}", "cardData")]
    [InlineData("{\"cardTemplateId\":\"tpl\",\"openConversationId\":\"cid\",\"privateData\":{\"u1\":{\"a\":\"\\udc00\"}}}", "privateData")]
    public async Task An_invalid_card_is_a_400_naming_the_field(string json, string field)
    {
        var response = await SendJsonAsync("POST", "/api/cards", json);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
        Assert.Empty(fixture.DingTalk.State.RequestsTo("/v1.0/card/instances/createAndDeliver"));
    }

    [Theory]
    [InlineData("{\"cardTemplateId\":", "$", null)]
    [InlineData("not json", "$", null)]
    [InlineData("{\"cardTemplateId\":42,\"openConversationId\":\"cid\"}", "$.cardTemplateId", "The JSON value here must be a string.")]
    [InlineData("{\"cardTemplateId\":\"t\",\"userIds\":\"u1\"}", "$.userIds", "The JSON value here must be an array.")]
    [InlineData("{\"cardTemplateId\":\"t\",\"openConversationId\":\"c\",\"privateData\":{\"u1\":5}}", "$.privateData.u1", "The JSON value here must be an object.")]
    public async Task A_malformed_or_mistyped_body_is_a_400_problem_saying_where_in_JSONs_words(string json, string path, string? wording)
    {
        var response = await SendJsonAsync("POST", "/api/cards", json);

        var detail = (await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest)).GetProperty("detail").GetString()!;
        Assert.Contains($"at {path}", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", detail, StringComparison.Ordinal); // JSON's words, not .NET's
        Assert.EndsWith(wording ?? "", detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/api/cards/any", "{\"cardData\":{\"a\":\"x\\ud800\"}}", "cardData")]
    [InlineData("/api/cards/any", "{\"privateData\":{\"u1\":{\"a\":\"\\udc00\"}}}", "privateData")]
    [InlineData("/api/robot-cards/any", "{\"cardData\":{\"contents\":[{\"text\":\"\\ud800\"}]}}", "cardData")]
    public async Task An_update_holding_half_a_surrogate_pair_is_a_400_naming_the_field(string path, string json, string field)
    {
        // Valid JSON, but no UTF-8 can carry it to DingTalk, and it would fail the outbox's own write.
        var response = await SendJsonAsync("PUT", path, json);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
    }

    [Fact]
    public async Task A_missing_body_is_a_400_asking_for_JSON()
    {
        var response = await _api.PostAsync("/api/cards", new StringContent("", Encoding.UTF8, "application/json"));

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("This endpoint needs a JSON body (Content-Type: application/json).", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_body_that_is_not_JSON_by_its_content_type_is_a_415_saying_what_to_send()
    {
        var response = await _api.PostAsync("/api/cards", new StringContent("{}", Encoding.UTF8, "text/plain"));

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Equal("Send the body as JSON, with Content-Type: application/json.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_stream_frame_without_key_is_a_400()
    {
        var response = await _api.PostAsJsonAsync("/api/cards/x/stream", new { content = "hi" });

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("key", out _));
    }

    [Fact]
    public async Task A_card_the_gateway_never_sent_is_a_404_problem()
    {
        var problem = await HttpAssert.ProblemAsync(await _api.GetAsync("/api/cards/never-sent"), HttpStatusCode.NotFound);

        Assert.Equal("The gateway has no card never-sent, and no update or callback for it.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task An_update_DingTalk_refused_for_a_card_the_gateway_never_sent_stays_visible_as_a_dead_letter()
    {
        // The log says a dead letter "stays visible in GET /api/cards": that must hold for a card sent by someone else too.
        var refused = await _api.PutAsJsonAsync("/api/cards/sent-elsewhere", new { cardData = new { n = 1 } });
        await HttpAssert.ProblemAsync(refused, HttpStatusCode.NotFound); // the fake DingTalk has no such card either

        var state = await HttpAssert.JsonAsync(await _api.GetAsync("/api/cards/sent-elsewhere"), HttpStatusCode.OK);

        Assert.False(state.TryGetProperty("card", out _)); // no card stored: left out, as every null is
        var dead = Assert.Single(state.GetProperty("undelivered").EnumerateArray());
        Assert.Equal("Dead", dead.GetProperty("status").GetString());
        Assert.Equal("param.cardNotExist", dead.GetProperty("lastErrorCode").GetString());
    }

    [Theory]
    [InlineData("POST", "/api/cards", "{\"cardTemplateId\":\"tpl\",\"openConversationId\":\"cid\",\"privateData\":{\"u1\":null}}", "privateData")]
    [InlineData("PUT", "/api/cards/any", "{\"privateData\":{\"u1\":null}}", "privateData")]
    [InlineData("POST", "/api/cards", "{\"cardTemplateId\":\"tpl\",\"openConversationId\":\"cid\",\"atUserIds\":[null]}", "atUserIds")]
    [InlineData("POST", "/api/cards", "{\"cardTemplateId\":\"tpl\",\"openConversationId\":\"cid\",\"atUserIds\":[\" \"]}", "atUserIds")]
    public async Task A_null_where_a_user_belongs_is_a_400_naming_the_field(string method, string path, string json, string field)
    {
        var response = await SendJsonAsync(method, path, json);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
        Assert.Empty(fixture.DingTalk.State.RequestsTo("/v1.0/card/instances/createAndDeliver"));
    }

    [Fact]
    public async Task A_robot_cards_replacing_update_replaces_the_stored_private_data_as_DingTalk_does()
    {
        var cardBizId = $"robot-replace-{Guid.NewGuid():N}";
        await HttpAssert.JsonAsync(await _api.PostAsJsonAsync("/api/robot-cards", new { cardBizId, openConversationId = "cidRobot==", cardData = new { contents = Array.Empty<object>() } }), HttpStatusCode.Created);
        var merged = await _api.PutAsJsonAsync($"/api/robot-cards/{cardBizId}", new { cardData = new { a = 1 }, userIdPrivateData = new { u1 = new { vote = "A", note = "first" }, u2 = new { vote = "C" } } });
        Assert.Equal(HttpStatusCode.NoContent, merged.StatusCode);

        var replaced = await _api.PutAsJsonAsync($"/api/robot-cards/{cardBizId}", new { cardData = new { contents = Array.Empty<object>() }, userIdPrivateData = new { u1 = new { vote = "B" } }, replace = true });

        Assert.Equal(HttpStatusCode.NoContent, replaced.StatusCode);
        Assert.Equal("""{"u1":{"vote":"B"}}""", fixture.DingTalk.State.FindRobotCard(cardBizId)!.UserIdPrivateDataMap);
        var stored = await HttpAssert.JsonAsync(await _api.GetAsync($"/api/robot-cards/{cardBizId}"), HttpStatusCode.OK);
        Assert.Equal("""{"u1":{"vote":"B"}}""", stored.GetProperty("card").GetProperty("privateData").GetRawText()); // not the note, nor u2, DingTalk dropped
    }

    [Fact]
    public async Task A_robot_cards_private_update_merges_into_that_users_earlier_private_data_at_DingTalk_as_in_the_store()
    {
        // DingTalk merges a robot card's userIdPrivateDataMap by its top-level keys, the users: a user's values sent alone
        // would replace what that user had there, while the gateway stores them merged by key.
        var cardBizId = $"robot-merge-{Guid.NewGuid():N}";
        await HttpAssert.JsonAsync(await _api.PostAsJsonAsync("/api/robot-cards", new { cardBizId, openConversationId = "cidRobot==", cardData = new { contents = Array.Empty<object>() } }), HttpStatusCode.Created);
        var first = await _api.PutAsJsonAsync($"/api/robot-cards/{cardBizId}", new { cardData = new { a = 1 }, userIdPrivateData = new { u1 = new { vote = "A", note = "first" }, u2 = new { vote = "C" } } });
        Assert.Equal(HttpStatusCode.NoContent, first.StatusCode);

        var second = await _api.PutAsJsonAsync($"/api/robot-cards/{cardBizId}", new { cardData = new { a = 2 }, userIdPrivateData = new { u1 = new { vote = "B" } } });

        Assert.Equal(HttpStatusCode.NoContent, second.StatusCode);
        var stored = await HttpAssert.JsonAsync(await _api.GetAsync($"/api/robot-cards/{cardBizId}"), HttpStatusCode.OK);
        Assert.Equal("""{"u1":{"note":"first","vote":"B"},"u2":{"vote":"C"}}""", Canonical(stored.GetProperty("card").GetProperty("privateData").GetRawText()));
        Assert.Equal("""{"u1":{"note":"first","vote":"B"},"u2":{"vote":"C"}}""", Canonical(fixture.DingTalk.State.FindRobotCard(cardBizId)!.UserIdPrivateDataMap!));
    }

    /// <summary>JSON objects with their properties in order of name, users and values alike.</summary>
    private static string Canonical(string json)
    {
        static System.Text.Json.Nodes.JsonNode? Sorted(System.Text.Json.Nodes.JsonNode? node) => node is System.Text.Json.Nodes.JsonObject obj
            ? new System.Text.Json.Nodes.JsonObject(obj.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Sorted(p.Value?.DeepClone()))))
            : node?.DeepClone();
        return Sorted(System.Text.Json.Nodes.JsonNode.Parse(json))!.ToJsonString();
    }

    [Theory]
    [InlineData("null")]
    [InlineData("\"agree\"")]
    [InlineData("[1]")]
    public async Task A_robot_cards_private_data_for_a_user_that_is_not_an_object_is_a_400_not_dropped(string userData)
    {
        // Accepted, it became no private data at all: 204, and the user's values never reached anyone (nor the store).
        var cardBizId = $"robot-private-{Guid.NewGuid():N}"; // one card per case: an id DingTalk took is not sent again
        var sent = await _api.PostAsJsonAsync("/api/robot-cards", new { cardBizId, openConversationId = "cidRobot==", cardData = new { contents = Array.Empty<object>() } });
        Assert.Equal(HttpStatusCode.Created, sent.StatusCode);

        var response = await SendJsonAsync("PUT", $"/api/robot-cards/{cardBizId}", "{\"cardData\":{\"a\":1},\"userIdPrivateData\":{\"u1\":" + userData + "}}");

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("userIdPrivateData", out _), problem.GetRawText());
        Assert.Empty(fixture.DingTalk.State.RequestsTo("/v1.0/im/robots/interactiveCards"));
        var stored = await HttpAssert.JsonAsync(await _api.GetAsync($"/api/robot-cards/{cardBizId}"), HttpStatusCode.OK);
        Assert.False(stored.GetProperty("card").GetProperty("privateData").TryGetProperty("u1", out _));
    }

    [Theory]
    [InlineData("PUT", "/api/robot-cards/dup-robot", "{\"cardData\":{\"a\":1,\"a\":2}}", "$.cardData")]
    [InlineData("PUT", "/api/robot-cards/dup-robot", "{\"cardData\":{\"a\":1},\"userIdPrivateData\":{\"u1\":{\"b\":1,\"b\":2}}}", "$.userIdPrivateData.u1")]
    [InlineData("POST", "/api/robot-cards", "{\"openConversationId\":\"cidRobot==\",\"cardData\":{\"header\":{\"t\":1,\"t\":2},\"contents\":[]}}", "$.cardData")]
    [InlineData("POST", "/api/cards", "{\"cardTemplateId\":\"tpl\",\"openConversationId\":\"cid\",\"cardData\":{\"a\":1,\"a\":2}}", "$.cardData")]
    [InlineData("POST", "/api/cards", "{\"cardTemplateId\":\"tpl\",\"cardTemplateId\":\"tpl2\",\"openConversationId\":\"cid\",\"cardData\":{}}", "$.cardTemplateId")]
    public async Task A_property_named_twice_is_a_400_saying_where(string method, string path, string json, string where)
    {
        var response = await SendJsonAsync(method, path, json);

        var detail = (await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest)).GetProperty("detail").GetString()!;
        Assert.Contains($"at {where}", detail, StringComparison.Ordinal);
        Assert.Contains("Duplicate", detail, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("DingTalk.CardGateway", detail, StringComparison.Ordinal); // said in JSON's words, not the gateway's type names
        Assert.Empty(fixture.DingTalk.State.RequestsTo("/v1.0/card/instances/createAndDeliver"));
        Assert.Empty(fixture.DingTalk.State.RequestsTo("/v1.0/im/v1.0/robot/interactiveCards/send"));
    }

    [Theory]
    [InlineData("/api/cards", "outTrackId", "team/incident-7")]
    [InlineData("/api/cards", "outTrackId", "..")]
    [InlineData("/api/robot-cards", "cardBizId", "team/deploy-7")]
    public async Task An_id_its_own_location_could_not_reach_is_a_400(string route, string field, string id)
    {
        // Routing leaves %2F encoded: "team/incident-7" was sent, then GET and PUT of its Location looked for "team%2Fincident-7".
        var response = await _api.PostAsJsonAsync(route, new Dictionary<string, object>
        {
            ["cardTemplateId"] = "tpl",
            ["openConversationId"] = "cidX==",
            ["cardData"] = new { contents = Array.Empty<object>() },
            [field] = id,
        });

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
        Assert.Null(fixture.DingTalk.State.FindCard(id));
        Assert.Null(fixture.DingTalk.State.FindRobotCard(id));
    }

    [Fact]
    public async Task An_id_the_other_kind_of_card_has_is_a_409_and_leaves_that_card_as_it_was()
    {
        await SendAsync("shared-advanced", new { n = 1 });
        await HttpAssert.JsonAsync(await _api.PostAsJsonAsync("/api/robot-cards", new { cardBizId = "shared-robot", openConversationId = "cidRobot==", cardData = new { contents = Array.Empty<object>() } }), HttpStatusCode.Created);
        var before = await StoredDataAsync("shared-advanced") + await StoredDataAsync("shared-robot");

        // DingTalk keeps the two kinds' ids apart and accepts both; the gateway's one row per id would be taken over.
        var asRobot = await _api.PostAsJsonAsync("/api/robot-cards", new { cardBizId = "shared-advanced", openConversationId = "cidRobot==", cardData = new { contents = Array.Empty<object>() } });
        var asAdvanced = await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "shared-robot", openConversationId = "cidX==", cardData = new { n = 2 } });

        await HttpAssert.ProblemAsync(asRobot, HttpStatusCode.Conflict);
        await HttpAssert.ProblemAsync(asAdvanced, HttpStatusCode.Conflict);
        Assert.Null(fixture.DingTalk.State.FindRobotCard("shared-advanced"));
        Assert.Null(fixture.DingTalk.State.FindCard("shared-robot"));
        Assert.Equal("Advanced", (await HttpAssert.JsonAsync(await _api.GetAsync("/api/cards/shared-advanced"), HttpStatusCode.OK)).GetProperty("card").GetProperty("kind").GetString());
        Assert.Equal("Robot", (await HttpAssert.JsonAsync(await _api.GetAsync("/api/cards/shared-robot"), HttpStatusCode.OK)).GetProperty("card").GetProperty("kind").GetString());
        Assert.Equal(before, await StoredDataAsync("shared-advanced") + await StoredDataAsync("shared-robot"));
    }

    [Fact]
    public async Task An_AppSecret_DingTalk_refuses_is_a_502_with_its_code_not_DingTalk_unreachable()
    {
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?> { ["DingTalk:AppSecret"] = "rotated-away-secret" });
        using var api = gateway.CreateAdminClient();

        var response = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "bad-secret", openConversationId = "cidX==" });

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        Assert.Equal("invalidClientIdOrSecret", problem.GetProperty("dingTalkCode").GetString());
        Assert.False(response.Headers.Contains("Retry-After"));
        Assert.DoesNotContain("rotated-away-secret", problem.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_update_while_DingTalk_refuses_the_AppSecret_is_kept_and_retried_and_answered_202_with_the_refusal()
    {
        // A secret rotated in DingTalk before the gateway's: its queued updates must go out once the secret is fixed.
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?> { ["DingTalk:AppSecret"] = "rotated-away-secret" });
        using var api = gateway.CreateAdminClient();

        var response = await api.PutAsJsonAsync("/api/cards/bad-secret-update", new { cardData = new { n = 1 } });

        var accepted = await HttpAssert.JsonAsync(response, HttpStatusCode.Accepted);
        Assert.Equal("Pending", accepted.GetProperty("status").GetString());
        Assert.Contains("invalidClientIdOrSecret", accepted.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("rotated-away-secret", accepted.GetRawText(), StringComparison.Ordinal);
        Assert.Contains(gateway.LogEvents, e => DingTalk.CardGateway.Tests.Callbacks.CardCallbackEndpointTests.EventId(e) == 4102 && e.RenderMessage().Contains("bad-secret-update", StringComparison.Ordinal));
        Assert.DoesNotContain(gateway.LogEvents, e => e.RenderMessage().Contains("rotated-away-secret", StringComparison.Ordinal));
    }

    private async Task SendAsync(string outTrackId, object cardData)
    {
        var response = await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId, openConversationId = "cidX==", cardData });
        await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
    }

    /// <summary>A raw JSON body, as a client that builds its own would send it.</summary>
    private Task<HttpResponseMessage> SendJsonAsync(string method, string path, string json) =>
        _api.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = new StringContent(json, Encoding.UTF8, "application/json") });
}
