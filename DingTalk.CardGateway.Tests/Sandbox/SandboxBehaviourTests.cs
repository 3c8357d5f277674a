using System.Net;
using System.Text.Json.Nodes;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.Sandbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace DingTalk.CardGateway.Tests.SandboxTests;

/// <summary>What the fake does with accepted calls: updates, streaming, registrations and robot cards.</summary>
public sealed class SandboxBehaviourTests : SandboxTestBase
{
    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var created = await Client.PostAsync("/v1.0/card/instances/createAndDeliver", ValidRequests.CreateAndDeliver());
        Assert.Equal(HttpStatusCode.OK, created.Status);
    }

    // --- the request log -------------------------------------------------------------------------------

    [Fact]
    public async Task The_request_log_keeps_the_newest_requests_not_every_request_ever_received()
    {
        // In Sandbox mode the emulator lives in the gateway's process: a log of every request, bodies included, grew
        // for as long as the gateway ran (43,330 requests, 26 MB as JSON, after a 27-minute soak).
        var kept = new SandboxOptions().RequestsKept;
        await Parallel.ForEachAsync(Enumerable.Range(0, kept + 200), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
            await Client.PutAsync("/v1.0/card/instances", Update($"log-{i}")));
        await Client.PutAsync("/v1.0/card/instances", Update("log-last")); // refused (no such card, or the pace limit): recorded all the same

        var requests = DingTalk.State.Requests;
        Assert.Equal(kept, requests.Count);
        Assert.Contains("log-last", requests[^1].Body, StringComparison.Ordinal);
        Assert.DoesNotContain(requests, r => r.Path.EndsWith("/createAndDeliver", StringComparison.Ordinal)); // the oldest are gone

        static JsonObject Update(string outTrackId) => new()
        {
            ["outTrackId"] = outTrackId,
            ["cardData"] = new JsonObject { ["cardParamMap"] = new JsonObject { ["k"] = "v" } },
        };
    }

    // --- update ----------------------------------------------------------------------------------------

    [Fact]
    public async Task Update_without_options_replaces_the_whole_cardParamMap()
    {
        var reply = await Client.PutAsync("/v1.0/card/instances", ValidRequests.UpdateCard("card-1", new JsonObject { ["count"] = "1" }));

        Assert.Equal(HttpStatusCode.OK, reply.Status);
        Assert.True(reply.Body!["result"]!.GetValue<bool>());
        var card = DingTalk.State.FindCard("card-1")!;
        Assert.Equal(new Dictionary<string, string> { ["count"] = "1" }, card.CardData);
        Assert.Equal(1, card.UpdateCount);
    }

    [Fact]
    public async Task Update_by_key_merges_into_the_cardParamMap()
    {
        await Client.PutAsync("/v1.0/card/instances", ValidRequests.UpdateCard("card-1", new JsonObject { ["count"] = "1" }, byKey: true));

        var card = DingTalk.State.FindCard("card-1")!;
        Assert.Equal("Lunch?", card.CardData["title"]);
        Assert.Equal("1", card.CardData["count"]);
    }

    [Theory]
    [InlineData(true, "false", "pizza")]
    [InlineData(false, null, "pizza")]
    public async Task Private_data_merges_by_key_or_replaces_the_users_map(bool byKey, string? votedAfter, string choiceAfter)
    {
        var reply = await Client.PutAsync("/v1.0/card/instances", new JsonObject
        {
            ["outTrackId"] = "card-1",
            ["privateData"] = new JsonObject { ["user-1"] = new JsonObject { ["cardParamMap"] = new JsonObject { ["choice"] = "pizza" } } },
            ["cardUpdateOptions"] = new JsonObject { ["updatePrivateDataByKey"] = byKey },
        });

        Assert.Equal(HttpStatusCode.OK, reply.Status);
        var user = DingTalk.State.FindCard("card-1")!.PrivateData["user-1"];
        Assert.Equal(choiceAfter, user["choice"]);
        Assert.Equal(votedAfter, user.GetValueOrDefault("voted"));
    }

    [Fact]
    public async Task Update_of_an_unknown_card_is_refused_with_cardNotExist()
    {
        var reply = await Client.PutAsync("/v1.0/card/instances", ValidRequests.UpdateCard("nope", new JsonObject { ["a"] = "b" }));

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal("param.cardNotExist", reply.Code);
    }

    [Fact]
    public async Task A_denied_permission_is_refused_with_403_naming_the_required_scopes_and_changes_nothing()
    {
        DingTalk.State.DenyPermissionNext(HttpMethod.Put, "/v1.0/card/instances", ["Card.Instance.Write"]);

        var denied = await Client.PutAsync("/v1.0/card/instances", ValidRequests.UpdateCard("card-1", new JsonObject { ["count"] = "1" }));
        var next = await Client.PutAsync("/v1.0/card/instances", ValidRequests.UpdateCard("card-1", new JsonObject { ["count"] = "2" }));

        Assert.Equal(HttpStatusCode.Forbidden, denied.Status);
        Assert.Equal("Forbidden.AccessDenied.AccessTokenPermissionDenied", denied.Code);
        Assert.Equal(["Card.Instance.Write"], denied.Body!["accessdenieddetail"]!["requiredScopes"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.OK, next.Status); // once only
        Assert.Equal(1, DingTalk.State.FindCard("card-1")!.UpdateCount);
    }

    [Fact]
    public async Task Update_with_a_number_in_cardParamMap_is_refused()
    {
        var reply = await Client.PutAsync("/v1.0/card/instances", ValidRequests.UpdateCard("card-1", new JsonObject { ["count"] = 1 }));

        Assert.Equal("InvalidParameter", reply.Code);
        Assert.Equal("Lunch?", DingTalk.State.FindCard("card-1")!.CardData["title"]);
    }

    [Fact]
    public async Task Update_with_a_misspelt_option_is_refused()
    {
        var body = ValidRequests.UpdateCard("card-1", new JsonObject { ["count"] = "1" });
        body["cardUpdateOptions"] = new JsonObject { ["updateCardDataBykey"] = true };

        var reply = await Client.PutAsync("/v1.0/card/instances", body);

        Assert.Equal("InvalidParameter", reply.Code);
        Assert.Contains("cardUpdateOptions.updateCardDataBykey", reply.Message, StringComparison.Ordinal);
    }

    // --- streaming -------------------------------------------------------------------------------------

    [Fact]
    public async Task Streaming_without_isFull_is_refused()
    {
        var body = ValidRequests.Streaming("card-1", "g1", "Hel");
        body.Remove("isFull");

        var reply = await Client.PutAsync("/v1.0/card/streaming", body);

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal("param.stream.isFull", reply.Code);
        Assert.Empty(DingTalk.State.FindCard("card-1")!.StreamingFrames);
    }

    [Theory]
    [InlineData("guid")]
    [InlineData("key")]
    [InlineData("outTrackId")]
    [InlineData("content")]
    public async Task Streaming_without_a_required_field_is_refused(string field)
    {
        var body = ValidRequests.Streaming("card-1", "g1", "Hel");
        body.Remove(field);

        var reply = await Client.PutAsync("/v1.0/card/streaming", body);

        Assert.Equal("Missing" + field, reply.Code);
    }

    [Fact]
    public async Task Streaming_to_an_unknown_card_is_refused_with_cardNotExist()
    {
        var reply = await Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("nope", "g1", "Hel"));

        Assert.Equal("param.cardNotExist", reply.Code);
    }

    [Fact]
    public async Task Streaming_frames_are_recorded_once_per_guid_and_build_the_text()
    {
        await Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-1", "g1", "Hel"));
        await Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-1", "g1", "Hel"));
        await Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-1", "g2", "lo", isFull: false));
        var last = await Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-1", "g3", "Hello!", isFinalize: true));

        Assert.Equal(HttpStatusCode.OK, last.Status);
        Assert.True(last.Body!["success"]!.GetValue<bool>());
        var card = DingTalk.State.FindCard("card-1")!;
        Assert.Equal(["g1", "g2", "g3"], card.StreamingFrames.Select(f => f.Guid).ToArray());
        Assert.True(card.IsStreamingFinalized("answer"));
        Assert.Equal("Hello!", DingTalk.State.StreamingText("card-1", "answer"));
    }

    [Fact]
    public async Task Streaming_appends_when_isFull_is_false()
    {
        await Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-1", "g1", "Hel", isFull: false));
        await Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-1", "g2", "lo", isFull: false));

        Assert.Equal("Hello", DingTalk.State.StreamingText("card-1", "answer"));
    }

    [Fact]
    public async Task Streaming_faster_than_the_configured_pace_is_refused_with_403()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2025-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        await using var paced = await FakeDingTalk.StartAsync(o => o.StreamingMinInterval = TimeSpan.FromMilliseconds(500), clock);
        using var client = new SandboxClient(paced);
        await client.LoginAsync();
        await client.PostAsync("/v1.0/card/instances/createAndDeliver", ValidRequests.CreateAndDeliver());

        var first = await client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-1", "g1", "H"));
        clock.Advance(TimeSpan.FromMilliseconds(200));
        var tooSoon = await client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-1", "g2", "He"));
        var retryOfAcceptedFrame = await client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-1", "g1", "H"));
        clock.Advance(TimeSpan.FromMilliseconds(300));
        var onTime = await client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-1", "g2", "He"));

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal(HttpStatusCode.Forbidden, tooSoon.Status);
        Assert.Equal(HttpStatusCode.OK, retryOfAcceptedFrame.Status);
        Assert.Equal(HttpStatusCode.OK, onTime.Status);
        Assert.Equal("He", paced.State.StreamingText("card-1", "answer"));
    }

    [Fact]
    public async Task More_than_20_calls_to_one_API_in_a_second_are_refused_with_DingTalks_QPS_code()
    {
        // Concurrently, so all 30 land well inside one second however slow the machine.
        var replies = await Task.WhenAll(Enumerable.Range(0, 30).Select(i =>
            Client.PutAsync("/v1.0/card/instances", ValidRequests.UpdateCard("card-1", new JsonObject { ["n"] = $"{i}" }, byKey: true))));
        var otherApi = await Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-1", "g1", "still served"));

        Assert.Equal(20, replies.Count(r => r.Status == HttpStatusCode.OK));
        Assert.All(replies.Where(r => r.Status != HttpStatusCode.OK), r =>
        {
            Assert.Equal(HttpStatusCode.Forbidden, r.Status);
            Assert.Equal("Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", r.Code);
        });
        Assert.Equal(HttpStatusCode.OK, otherApi.Status); // the limit is per API
        Assert.Equal(20, DingTalk.State.FindCard("card-1")!.UpdateCount); // a refused call changes nothing
    }

    [Fact]
    public async Task The_QPS_limit_can_be_turned_off()
    {
        await using var unlimited = await FakeDingTalk.StartAsync(o => o.QpsLimitPerApi = 0);
        using var client = new SandboxClient(unlimited);
        await client.LoginAsync();
        await client.PostAsync("/v1.0/card/instances/createAndDeliver", ValidRequests.CreateAndDeliver());

        var replies = await Task.WhenAll(Enumerable.Range(0, 30).Select(i =>
            client.PutAsync("/v1.0/card/instances", ValidRequests.UpdateCard("card-1", new JsonObject { ["n"] = $"{i}" }, byKey: true))));

        Assert.All(replies, r => Assert.Equal(HttpStatusCode.OK, r.Status));
    }

    // --- callback registration -------------------------------------------------------------------------

    [Fact]
    public async Task Registering_an_unmapped_route_key_maps_it()
    {
        var reply = await Client.PostAsync("/v1.0/card/callbacks/register", ValidRequests.RegisterCallback("route-1", "https://gw.example.test/callbacks"));

        Assert.Equal(HttpStatusCode.OK, reply.Status);
        Assert.Equal("https://gw.example.test/callbacks", reply.Body!["result"]!["callbackUrl"]!.GetValue<string>());
        Assert.Equal("secret-route-1", reply.Body["result"]!["apiSecret"]!.GetValue<string>());
        Assert.Equal(new RegisteredCallback("route-1", "https://gw.example.test/callbacks", "secret-route-1"), DingTalk.State.Callbacks["route-1"]);
    }

    [Fact]
    public async Task Conflicting_registration_without_forceUpdate_answers_200_with_the_old_url_and_keeps_it()
    {
        DingTalk.State.RegisterCallbackDirectly("route-1", "https://other.example.test/cb", "other-secret");

        var reply = await Client.PostAsync("/v1.0/card/callbacks/register", ValidRequests.RegisterCallback("route-1", "https://gw.example.test/callbacks"));

        Assert.Equal(HttpStatusCode.OK, reply.Status);
        Assert.Equal("https://other.example.test/cb", reply.Body!["result"]!["callbackUrl"]!.GetValue<string>());
        Assert.Equal("other-secret", reply.Body["result"]!["apiSecret"]!.GetValue<string>());
        Assert.Equal("https://other.example.test/cb", DingTalk.State.Callbacks["route-1"].CallbackUrl);
    }

    [Fact]
    public async Task Conflicting_registration_with_forceUpdate_takes_the_route_key()
    {
        DingTalk.State.RegisterCallbackDirectly("route-1", "https://other.example.test/cb", "other-secret");

        var reply = await Client.PostAsync("/v1.0/card/callbacks/register", ValidRequests.RegisterCallback("route-1", "https://gw.example.test/callbacks", forceUpdate: true));

        Assert.Equal("https://gw.example.test/callbacks", reply.Body!["result"]!["callbackUrl"]!.GetValue<string>());
        Assert.Equal("https://gw.example.test/callbacks", DingTalk.State.Callbacks["route-1"].CallbackUrl);
    }

    [Theory]
    [InlineData("/callbacks")]
    [InlineData("ftp://gw.example.test/cb")]
    public async Task Registration_of_a_non_http_url_is_refused(string url)
    {
        var reply = await Client.PostAsync("/v1.0/card/callbacks/register", ValidRequests.RegisterCallback("route-1", url));

        Assert.Equal("InvalidParameter", reply.Code);
        Assert.Empty(DingTalk.State.Callbacks);
    }

    // --- robot cards -----------------------------------------------------------------------------------

    [Fact]
    public async Task Robot_card_send_is_accepted_and_answers_a_processQueryKey()
    {
        var reply = await Client.PostAsync("/v1.0/im/v1.0/robot/interactiveCards/send", ValidRequests.RobotSend());

        Assert.Equal(HttpStatusCode.OK, reply.Status);
        Assert.False(string.IsNullOrEmpty(reply.Body!["processQueryKey"]!.GetValue<string>()));
        var card = DingTalk.State.FindRobotCard("biz-1")!;
        Assert.Equal("robot-1", card.RobotCode);
        Assert.Equal("cidGroup1==", card.OpenConversationId);
        Assert.Contains("\"autoLayout\":true", card.CardData, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cardData")]
    [InlineData("userIdPrivateDataMap")]
    public async Task Robot_card_structured_fields_sent_as_objects_are_refused(string field)
    {
        var body = ValidRequests.RobotSend();
        body[field] = JsonNode.Parse(body[field]!.GetValue<string>());

        var reply = await Client.PostAsync("/v1.0/im/v1.0/robot/interactiveCards/send", body);

        Assert.Equal("InvalidParameter", reply.Code);
        Assert.Contains($"{field} must be a string holding a JSON object", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Robot_card_singleChatReceiver_must_be_a_JSON_string_naming_a_user()
    {
        var asObject = ValidRequests.RobotSend();
        asObject.Remove("openConversationId");
        asObject["singleChatReceiver"] = new JsonObject { ["userId"] = "user-1" };
        var asString = ValidRequests.RobotSend("biz-2");
        asString.Remove("openConversationId");
        asString["singleChatReceiver"] = """{"userId":"user-1"}""";

        var refused = await Client.PostAsync("/v1.0/im/v1.0/robot/interactiveCards/send", asObject);
        var accepted = await Client.PostAsync("/v1.0/im/v1.0/robot/interactiveCards/send", asString);

        Assert.Equal("InvalidParameter", refused.Code);
        Assert.Equal(HttpStatusCode.OK, accepted.Status);
        Assert.Equal("""{"userId":"user-1"}""", DingTalk.State.FindRobotCard("biz-2")!.SingleChatReceiver);
    }

    [Fact]
    public async Task Robot_card_without_a_conversation_or_receiver_is_refused()
    {
        var body = ValidRequests.RobotSend();
        body.Remove("openConversationId");

        var reply = await Client.PostAsync("/v1.0/im/v1.0/robot/interactiveCards/send", body);

        Assert.Equal("MissingopenConversationId", reply.Code);
    }

    [Theory]
    [InlineData("template-1.schema")]
    [InlineData("standardcard")]
    public async Task Robot_card_with_a_template_other_than_StandardCard_is_refused(string template)
    {
        var body = ValidRequests.RobotSend();
        body["cardTemplateId"] = template;

        var reply = await Client.PostAsync("/v1.0/im/v1.0/robot/interactiveCards/send", body);

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal("InvalidParameter", reply.Code);
        Assert.Contains("StandardCard", reply.Message, StringComparison.Ordinal);
        Assert.Null(DingTalk.State.FindRobotCard("biz-1"));
    }

    [Theory]
    [InlineData("robotCode")]
    [InlineData("cardBizId")]
    [InlineData("cardTemplateId")]
    [InlineData("cardData")]
    public async Task Robot_card_without_a_required_field_is_refused(string field)
    {
        var body = ValidRequests.RobotSend();
        body.Remove(field);

        var reply = await Client.PostAsync("/v1.0/im/v1.0/robot/interactiveCards/send", body);

        Assert.Equal("Missing" + field, reply.Code);
    }

    [Fact]
    public async Task Robot_card_update_replaces_or_merges_cardData()
    {
        await Client.PostAsync("/v1.0/im/v1.0/robot/interactiveCards/send", ValidRequests.RobotSend());

        var merged = await Client.PutAsync("/v1.0/im/robots/interactiveCards", new JsonObject
        {
            ["cardBizId"] = "biz-1",
            ["cardData"] = """{"contents":[{"type":"text","text":"done"}]}""",
            ["updateOptions"] = new JsonObject { ["updateCardDataByKey"] = true },
        });
        var afterMerge = JsonNode.Parse(DingTalk.State.FindRobotCard("biz-1")!.CardData)!;
        await Client.PutAsync("/v1.0/im/robots/interactiveCards", new JsonObject
        {
            ["cardBizId"] = "biz-1",
            ["cardData"] = """{"contents":[]}""",
        });
        var afterReplace = JsonNode.Parse(DingTalk.State.FindRobotCard("biz-1")!.CardData)!;

        Assert.Equal(HttpStatusCode.OK, merged.Status);
        Assert.False(string.IsNullOrEmpty(merged.Body!["processQueryKey"]!.GetValue<string>()));
        Assert.NotNull(afterMerge["header"]);
        Assert.Equal("done", afterMerge["contents"]![0]!["text"]!.GetValue<string>());
        Assert.Null(afterReplace["header"]);
        Assert.Equal(2, DingTalk.State.FindRobotCard("biz-1")!.UpdateCount);
    }

    [Fact]
    public async Task Robot_card_update_of_an_unknown_card_is_refused_with_cardNotExist()
    {
        var reply = await Client.PutAsync("/v1.0/im/robots/interactiveCards", new JsonObject { ["cardBizId"] = "nope", ["cardData"] = "{}" });

        Assert.Equal("param.cardNotExist", reply.Code);
    }

    // --- mounting --------------------------------------------------------------------------------------

    [Fact]
    public async Task Mounted_under_a_prefix_it_serves_and_records_paths_after_the_prefix()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddDingTalkSandbox(o => o.AppSecret = "prefixed-secret");
        await using var app = builder.Build();
        app.MapDingTalkSandbox("/sandbox");
        await app.StartAsync();
        using var http = app.GetTestClient();

        using var token = await http.PostAsync("/sandbox/v1.0/oauth2/accessToken", new StringContent(
            """{"appKey":"sandbox-app-key","appSecret":"prefixed-secret"}""", System.Text.Encoding.UTF8, "application/json"));
        var accessToken = JsonNode.Parse(await token.Content.ReadAsStringAsync())!["accessToken"]!.GetValue<string>();
        using var create = new HttpRequestMessage(HttpMethod.Post, "/sandbox/v1.0/card/instances/createAndDeliver")
        {
            Content = new StringContent(ValidRequests.CreateAndDeliver().ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
        };
        create.Headers.Add("x-acs-dingtalk-access-token", accessToken);
        using var created = await http.SendAsync(create);
        using var cards = await http.GetAsync("/sandbox/cards");
        using var outside = await http.GetAsync("/v1.0/card/instances");

        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var listed = JsonNode.Parse(await cards.Content.ReadAsStringAsync())!["cards"]!.AsArray();
        Assert.Equal("card-1", Assert.Single(listed)!["outTrackId"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, outside.StatusCode);
        var state = app.Services.GetRequiredService<SandboxState>();
        Assert.Equal(200, Assert.Single(state.RequestsTo("/v1.0/oauth2/accessToken")).Status);
        Assert.Single(state.RequestsTo("/v1.0/card/instances/createAndDeliver"));
    }
}
