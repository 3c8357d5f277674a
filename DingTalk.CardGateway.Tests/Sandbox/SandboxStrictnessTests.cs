using System.Net;
using System.Text.Json.Nodes;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.Time.Testing;

namespace DingTalk.CardGateway.Tests.SandboxTests;

/// <summary>The fake refuses what DingTalk refuses, the way DingTalk refuses it, and accepts the right thing.</summary>
public sealed class SandboxStrictnessTests : SandboxTestBase
{
    private const string CreateAndDeliverPath = "/v1.0/card/instances/createAndDeliver";

    // --- token -----------------------------------------------------------------------------------------

    [Fact]
    public async Task Token_for_the_right_pair_lives_7200_seconds_and_is_the_same_when_asked_again()
    {
        var first = await TokenReply(DingTalk.Options.AppSecret);
        var second = await TokenReply(DingTalk.Options.AppSecret);

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal(7200, first.Body!["expireIn"]!.GetValue<int>());
        Assert.Equal(first.Body["accessToken"]!.GetValue<string>(), second.Body!["accessToken"]!.GetValue<string>());
        Assert.Equal(3, DingTalk.State.TokenRequests);
    }

    [Fact]
    public async Task Token_for_a_wrong_secret_is_refused_with_invalidClientIdOrSecret()
    {
        var reply = await TokenReply("not-the-secret");

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal("invalidClientIdOrSecret", reply.Code);
        Assert.Equal(2, DingTalk.State.TokenRequests);
    }

    [Fact]
    public async Task Legacy_gettoken_answers_errcode_zero_with_the_same_token()
    {
        var options = DingTalk.Options;
        var reply = await Client.SendAsync(HttpMethod.Get, $"/gettoken?appkey={options.AppKey}&appsecret={options.AppSecret}", null);
        var wrong = await Client.SendAsync(HttpMethod.Get, $"/gettoken?appkey={options.AppKey}&appsecret=nope", null);

        Assert.Equal(HttpStatusCode.OK, reply.Status);
        Assert.Equal(0, reply.Body!["errcode"]!.GetValue<int>());
        Assert.Equal("ok", reply.Body["errmsg"]!.GetValue<string>());
        Assert.Equal(Client.Token, reply.Body["access_token"]!.GetValue<string>());
        Assert.Equal(7200, reply.Body["expires_in"]!.GetValue<int>());
        Assert.Equal(HttpStatusCode.OK, wrong.Status);
        Assert.NotEqual(0, wrong.Body!["errcode"]!.GetValue<int>());
    }

    [Fact]
    public async Task Call_without_the_token_header_is_refused_with_MissingParameter()
    {
        Client.Token = null;

        var reply = await Client.PostAsync(CreateAndDeliverPath, ValidRequests.CreateAndDeliver());

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal("AuthenticationFailed.MissingParameter", reply.Code);
        Assert.Empty(DingTalk.State.Cards);
    }

    [Fact]
    public async Task Call_with_an_unknown_token_is_refused_with_InvalidAuthentication_400_not_401()
    {
        Client.Token = "made-up-token";

        var reply = await Client.PostAsync(CreateAndDeliverPath, ValidRequests.CreateAndDeliver());

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal("InvalidAuthentication", reply.Code);
    }

    [Fact]
    public async Task Expired_token_is_refused_and_the_next_token_call_issues_a_new_one()
    {
        var old = Client.Token;
        DingTalk.State.ExpireAllTokens();

        var refused = await Client.PostAsync(CreateAndDeliverPath, ValidRequests.CreateAndDeliver());
        var renewed = await Client.LoginAsync();
        var accepted = await Client.PostAsync(CreateAndDeliverPath, ValidRequests.CreateAndDeliver());

        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Equal("InvalidAuthentication", refused.Code);
        Assert.NotEqual(old, renewed);
        Assert.Equal(HttpStatusCode.OK, accepted.Status);
    }

    [Fact]
    public async Task Token_past_its_lifetime_is_refused()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2025-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        await using var dingTalk = await FakeDingTalk.StartAsync(timeProvider: clock);
        using var client = new SandboxClient(dingTalk);
        await client.LoginAsync();

        clock.Advance(TimeSpan.FromHours(2) + TimeSpan.FromSeconds(1));
        var reply = await client.PostAsync(CreateAndDeliverPath, ValidRequests.CreateAndDeliver());

        Assert.Equal("InvalidAuthentication", reply.Code);
    }

    // --- body ------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("{\"outTrackId\": ")]
    [InlineData("not json at all")]
    [InlineData("{\"outTrackId\":\"a\",\"outTrackId\":\"b\"}")]
    public async Task Malformed_JSON_is_refused_as_InvalidParameter_never_500(string body)
    {
        var reply = await Client.SendAsync(HttpMethod.Post, CreateAndDeliverPath, body);

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal("InvalidParameter", reply.Code);
        Assert.StartsWith("body is not JSON", reply.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("\"text\"")]
    [InlineData("42")]
    public async Task Body_that_is_not_an_object_is_refused(string body)
    {
        var reply = await Client.SendAsync(HttpMethod.Post, CreateAndDeliverPath, body);

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal("InvalidParameter", reply.Code);
    }

    [Fact]
    public async Task Body_sent_as_a_form_is_refused_as_Missingbody()
    {
        var reply = await Client.SendAsync(HttpMethod.Post, "/v1.0/oauth2/accessToken", "appKey=a&appSecret=b", "application/x-www-form-urlencoded");

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal("Missingbody", reply.Code);
    }

    [Fact]
    public async Task Unknown_top_level_property_is_refused_naming_it()
    {
        var body = ValidRequests.CreateAndDeliver();
        body["cardTemplateID"] = "typo";

        var reply = await Client.PostAsync(CreateAndDeliverPath, body);

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal("InvalidParameter", reply.Code);
        Assert.Contains("'cardTemplateID'", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_nested_property_is_refused_naming_its_path()
    {
        var body = ValidRequests.CreateAndDeliver();
        body["imGroupOpenDeliverModel"]!["robotcode"] = "robot-1";

        var reply = await Client.PostAsync(CreateAndDeliverPath, body);

        Assert.Equal("InvalidParameter", reply.Code);
        Assert.Contains("'imGroupOpenDeliverModel.robotcode'", reply.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("outTrackId")]
    [InlineData("cardTemplateId")]
    [InlineData("openSpaceId")]
    [InlineData("cardData")]
    public async Task Missing_required_field_is_refused_with_DingTalks_Missing_code(string field)
    {
        var body = ValidRequests.CreateAndDeliver();
        body.Remove(field);

        var reply = await Client.PostAsync(CreateAndDeliverPath, body);

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal("Missing" + field, reply.Code);
        Assert.Contains(field, reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Field_of_the_wrong_JSON_type_is_refused_naming_it()
    {
        var body = ValidRequests.CreateAndDeliver();
        body["outTrackId"] = 42;

        var reply = await Client.PostAsync(CreateAndDeliverPath, body);

        Assert.Equal("InvalidParameter", reply.Code);
        Assert.Contains("outTrackId must be a string, not a number", reply.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("3")]
    [InlineData("true")]
    [InlineData("{\"a\":1}")]
    [InlineData("[\"a\"]")]
    [InlineData("null")]
    public async Task CardParamMap_value_that_is_not_a_string_is_refused(string value)
    {
        var body = ValidRequests.CreateAndDeliver();
        body["cardData"]!["cardParamMap"]!["count"] = JsonNode.Parse(value);

        var reply = await Client.PostAsync(CreateAndDeliverPath, body);

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal("InvalidParameter", reply.Code);
        Assert.Contains("cardData.cardParamMap.count must be a string", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Private_cardParamMap_value_that_is_not_a_string_is_refused()
    {
        var body = ValidRequests.CreateAndDeliver();
        body["privateData"]!["user-1"]!["cardParamMap"]!["voted"] = false;

        var reply = await Client.PostAsync(CreateAndDeliverPath, body);

        Assert.Equal("InvalidParameter", reply.Code);
        Assert.Contains("privateData.user-1.cardParamMap.voted must be a string", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Null_optional_field_counts_as_absent()
    {
        var body = ValidRequests.CreateAndDeliver();
        body["callbackRouteKey"] = null;

        var reply = await Client.PostAsync(CreateAndDeliverPath, body);

        Assert.Equal(HttpStatusCode.OK, reply.Status);
    }

    // --- createAndDeliver --------------------------------------------------------------------------------

    [Fact]
    public async Task CreateAndDeliver_creates_the_card_and_reports_every_target()
    {
        var reply = await Client.PostAsync(CreateAndDeliverPath, ValidRequests.CreateAndDeliver());

        Assert.Equal(HttpStatusCode.OK, reply.Status);
        Assert.Equal("application/json; charset=utf-8", reply.ContentType);
        Assert.True(reply.Body!["success"]!.GetValue<bool>());
        var result = reply.Body["result"]!;
        Assert.Equal("card-1", result["outTrackId"]!.GetValue<string>());
        var target = Assert.Single(result["deliverResults"]!.AsArray())!;
        Assert.Equal("IM_GROUP", target["spaceType"]!.GetValue<string>());
        Assert.Equal("cidGroup1==", target["spaceId"]!.GetValue<string>());
        Assert.True(target["success"]!.GetValue<bool>());
        Assert.False(string.IsNullOrEmpty(target["carrierId"]!.GetValue<string>()));

        var card = DingTalk.State.FindCard("card-1")!;
        Assert.Equal("template-1.schema", card.CardTemplateId);
        Assert.Equal("STREAM", card.CallbackType);
        Assert.Equal("Lunch?", card.CardData["title"]);
        Assert.Equal("false", card.PrivateData["user-1"]["voted"]);
        Assert.Equal([ValidRequests.GroupSpace], card.OpenSpaceIds);
        Assert.Equal(["imGroupOpenSpaceModel"], card.SpaceModels);
    }

    [Fact]
    public async Task CreateAndDeliver_with_an_existing_outTrackId_is_refused()
    {
        await Client.PostAsync(CreateAndDeliverPath, ValidRequests.CreateAndDeliver());

        var reply = await Client.PostAsync(CreateAndDeliverPath, ValidRequests.CreateAndDeliver());

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal("param.outTrackIdExist", reply.Code);
    }

    [Fact]
    public async Task Partial_deliver_failure_comes_inside_a_200()
    {
        var body = ValidRequests.CreateAndDeliver(openSpaceId: "dtv1.card//IM_GROUP.cidGood==;IM_GROUP.cid-illegal-1");

        var reply = await Client.PostAsync(CreateAndDeliverPath, body);

        Assert.Equal(HttpStatusCode.OK, reply.Status);
        Assert.True(reply.Body!["success"]!.GetValue<bool>());
        var results = reply.Body["result"]!["deliverResults"]!.AsArray();
        Assert.Equal(2, results.Count);
        Assert.True(results[0]!["success"]!.GetValue<bool>());
        Assert.False(results[1]!["success"]!.GetValue<bool>());
        Assert.Equal("spaceId is illegal", results[1]!["errorMsg"]!.GetValue<string>());
        Assert.Equal([true, false], DingTalk.State.FindCard("card-1")!.Deliveries.Select(d => d.Success));
    }

    [Theory]
    [InlineData("IM_GROUP.cidGroup1==")]
    [InlineData("dtv1.card//")]
    [InlineData("dtv1.card//IM_GROUP")]
    [InlineData("dtv1.card//IM_GROUP.")]
    [InlineData("dtv1.card//GROUP.cidGroup1==")]
    [InlineData("dtv1.card//IM_GROUP.cid1;")]
    public async Task Malformed_openSpaceId_is_refused(string openSpaceId)
    {
        var reply = await Client.PostAsync(CreateAndDeliverPath, ValidRequests.CreateAndDeliver(openSpaceId: openSpaceId));

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal("InvalidParameter", reply.Code);
        Assert.Contains("openSpaceId", reply.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("imGroupOpenSpaceModel")]
    [InlineData("imGroupOpenDeliverModel")]
    public async Task Group_space_without_its_models_is_refused(string model)
    {
        var body = ValidRequests.CreateAndDeliver();
        body.Remove(model);

        var reply = await Client.PostAsync(CreateAndDeliverPath, body);

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal("Missing" + model, reply.Code);
        Assert.Contains("IM_GROUP", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Group_delivery_without_a_robotCode_is_refused()
    {
        var body = ValidRequests.CreateAndDeliver();
        body["imGroupOpenDeliverModel"] = new JsonObject();

        var reply = await Client.PostAsync(CreateAndDeliverPath, body);

        Assert.Equal("MissingrobotCode", reply.Code);
        Assert.Contains("imGroupOpenDeliverModel.robotCode", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Robot_space_is_accepted_with_its_models_and_spaceType_IM_ROBOT()
    {
        var reply = await Client.PostAsync(CreateAndDeliverPath, ValidRequests.RobotSpaceCreateAndDeliver());

        Assert.Equal(HttpStatusCode.OK, reply.Status);
        Assert.Equal("IM_ROBOT", DingTalk.State.FindCard("card-robot")!.Deliveries.Single().SpaceType);
    }

    [Theory]
    [InlineData(null, "MissingspaceType")]
    [InlineData("IM_GROUP", "InvalidParameter")]
    public async Task Robot_space_needs_deliver_spaceType_IM_ROBOT(string? spaceType, string code)
    {
        var body = ValidRequests.RobotSpaceCreateAndDeliver();
        body["imRobotOpenDeliverModel"]!["spaceType"] = spaceType;

        var reply = await Client.PostAsync(CreateAndDeliverPath, body);

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Equal(code, reply.Code);
    }

    [Fact]
    public async Task Robot_space_without_its_space_model_is_refused()
    {
        var body = ValidRequests.RobotSpaceCreateAndDeliver();
        body.Remove("imRobotOpenSpaceModel");

        var reply = await Client.PostAsync(CreateAndDeliverPath, body);

        Assert.Equal("MissingimRobotOpenSpaceModel", reply.Code);
    }

    [Fact]
    public async Task Http_callbackType_without_a_route_key_is_refused()
    {
        var body = ValidRequests.CreateAndDeliver();
        body["callbackType"] = "HTTP";

        var refused = await Client.PostAsync(CreateAndDeliverPath, body);
        body["callbackRouteKey"] = "route-1";
        var accepted = await Client.PostAsync(CreateAndDeliverPath, body);

        Assert.Equal("MissingcallbackRouteKey", refused.Code);
        Assert.Equal(HttpStatusCode.OK, accepted.Status);
        Assert.Equal("route-1", DingTalk.State.FindCard("card-1")!.CallbackRouteKey);
    }

    [Theory]
    [InlineData("http")]
    [InlineData("WEBHOOK")]
    public async Task Unknown_callbackType_is_refused(string callbackType)
    {
        var body = ValidRequests.CreateAndDeliver();
        body["callbackType"] = callbackType;

        var reply = await Client.PostAsync(CreateAndDeliverPath, body);

        Assert.Equal("InvalidParameter", reply.Code);
        Assert.Contains("callbackType", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UserIdType_other_than_1_or_2_is_refused()
    {
        var body = ValidRequests.CreateAndDeliver();
        body["userIdType"] = 3;

        var reply = await Client.PostAsync(CreateAndDeliverPath, body);

        Assert.Equal("InvalidParameter", reply.Code);
        Assert.Contains("userIdType", reply.Message, StringComparison.Ordinal);
    }

    // --- create only, deliver only ---------------------------------------------------------------------

    [Fact]
    public async Task Create_answers_the_outTrackId_and_deliver_answers_an_array()
    {
        var create = ValidRequests.CreateAndDeliver();
        create.Remove("openSpaceId");
        create.Remove("imGroupOpenDeliverModel");

        var created = await Client.PostAsync("/v1.0/card/instances", create);
        var delivered = await Client.PostAsync("/v1.0/card/instances/deliver", new JsonObject
        {
            ["outTrackId"] = "card-1",
            ["openSpaceId"] = ValidRequests.GroupSpace,
            ["imGroupOpenDeliverModel"] = new JsonObject { ["robotCode"] = "robot-1" },
        });

        Assert.Equal(HttpStatusCode.OK, created.Status);
        Assert.Equal("card-1", created.Body!["result"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, delivered.Status);
        Assert.True(Assert.Single(delivered.Body!["result"]!.AsArray())!["success"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Create_only_refuses_deliver_fields()
    {
        var reply = await Client.PostAsync("/v1.0/card/instances", ValidRequests.CreateAndDeliver());

        Assert.Equal("InvalidParameter", reply.Code);
        Assert.Contains("unknown property", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deliver_to_a_space_not_modelled_at_creation_is_refused()
    {
        var create = ValidRequests.CreateAndDeliver();
        create.Remove("openSpaceId");
        create.Remove("imGroupOpenDeliverModel");
        create.Remove("imGroupOpenSpaceModel");
        await Client.PostAsync("/v1.0/card/instances", create);

        var reply = await Client.PostAsync("/v1.0/card/instances/deliver", new JsonObject
        {
            ["outTrackId"] = "card-1",
            ["openSpaceId"] = ValidRequests.GroupSpace,
            ["imGroupOpenDeliverModel"] = new JsonObject { ["robotCode"] = "robot-1" },
        });

        Assert.Equal("MissingimGroupOpenSpaceModel", reply.Code);
    }

    [Fact]
    public async Task Deliver_of_an_unknown_card_is_refused_with_cardNotExist()
    {
        var reply = await Client.PostAsync("/v1.0/card/instances/deliver", new JsonObject
        {
            ["outTrackId"] = "nope",
            ["openSpaceId"] = ValidRequests.GroupSpace,
            ["imGroupOpenDeliverModel"] = new JsonObject { ["robotCode"] = "robot-1" },
        });

        Assert.Equal("param.cardNotExist", reply.Code);
    }

    // --- general ---------------------------------------------------------------------------------------

    [Fact]
    public async Task Unknown_path_or_method_answers_DingTalks_404()
    {
        var unknownPath = await Client.PostAsync("/v1.0/card/nothing", new JsonObject());
        var wrongMethod = await Client.SendAsync(HttpMethod.Get, "/v1.0/card/instances", null);

        Assert.Equal(HttpStatusCode.NotFound, unknownPath.Status);
        Assert.Equal("InvalidAction.NotFound", unknownPath.Code);
        Assert.Equal(HttpStatusCode.NotFound, wrongMethod.Status);
        Assert.Equal("InvalidAction.NotFound", wrongMethod.Code);
    }

    [Fact]
    public async Task Errors_carry_code_message_requestid_as_utf8_JSON()
    {
        var reply = await Client.PutAsync("/v1.0/card/instances", ValidRequests.UpdateCard("nope", new JsonObject()));

        Assert.Equal("application/json; charset=utf-8", reply.ContentType);
        Assert.Equal(["code", "message", "requestid"], reply.Body!.AsObject().Select(p => p.Key));
        Assert.False(string.IsNullOrEmpty(reply.Body["requestid"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Injected_fault_answers_its_status_and_Retry_After_then_clears()
    {
        DingTalk.State.FailNext(HttpMethod.Put, "/v1.0/card/streaming", 403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", times: 2, retryAfterSeconds: 1);
        await Client.PostAsync(CreateAndDeliverPath, ValidRequests.CreateAndDeliver());

        var first = await Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-1", "g1", "a"));
        var second = await Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-1", "g1", "a"));
        var third = await Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-1", "g1", "a"));

        Assert.Equal(HttpStatusCode.Forbidden, first.Status);
        Assert.Equal("Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", first.Code);
        Assert.Equal("1", first.RetryAfter);
        Assert.Equal(HttpStatusCode.Forbidden, second.Status);
        Assert.Equal(HttpStatusCode.OK, third.Status);
        Assert.Equal([403, 403, 200], DingTalk.State.RequestsTo("/v1.0/card/streaming").Select(r => r.Status));
    }

    [Fact]
    public async Task A_fault_for_one_card_spares_the_calls_for_another()
    {
        DingTalk.State.FailNext(HttpMethod.Put, "/v1.0/card/streaming", 403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", bodyContains: "card-2");
        await Client.PostAsync(CreateAndDeliverPath, ValidRequests.CreateAndDeliver("card-1"));
        await Client.PostAsync(CreateAndDeliverPath, ValidRequests.CreateAndDeliver("card-2"));

        var other = await Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-1", "g1", "a"));
        var named = await Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-2", "g2", "a"));
        var again = await Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("card-2", "g3", "a"));

        Assert.Equal(HttpStatusCode.OK, other.Status);
        Assert.Equal(HttpStatusCode.Forbidden, named.Status);
        Assert.Equal(HttpStatusCode.OK, again.Status);
    }

    [Fact]
    public async Task Every_request_is_recorded_with_its_token_body_and_answer()
    {
        await Client.PostAsync(CreateAndDeliverPath, ValidRequests.CreateAndDeliver());
        Client.Token = null;
        await Client.PostAsync(CreateAndDeliverPath, ValidRequests.CreateAndDeliver("card-2"));

        var requests = DingTalk.State.RequestsTo(CreateAndDeliverPath);

        Assert.Equal([200, 400], requests.Select(r => r.Status));
        Assert.NotNull(requests[0].AccessToken);
        Assert.Null(requests[1].AccessToken);
        Assert.Contains("\"card-2\"", requests[1].Body, StringComparison.Ordinal);
        Assert.Equal("POST", requests[0].Method);
        Assert.Equal(3, DingTalk.State.Requests.Count);
    }

    [Fact]
    public async Task Reset_forgets_cards_tokens_and_requests()
    {
        await Client.PostAsync(CreateAndDeliverPath, ValidRequests.CreateAndDeliver());

        DingTalk.State.Reset();
        var reply = await Client.PostAsync(CreateAndDeliverPath, ValidRequests.CreateAndDeliver());

        Assert.Equal("InvalidAuthentication", reply.Code);
        Assert.Empty(DingTalk.State.Cards);
        Assert.Single(DingTalk.State.Requests);
        Assert.Equal(0, DingTalk.State.TokenRequests);
    }

    public static TheoryData<string, string, string> GarbageInputs()
    {
        var data = new TheoryData<string, string, string>();
        string[] bodies =
        [
            "{}", "null", "[]", "{\"outTrackId\":null}", "{\"outTrackId\":{}}", "{\"cardData\":\"x\"}",
            "{\"privateData\":[]}", "{\"privateData\":{\"u\":null}}", "{\"privateData\":{\"u\":{\"cardParamMap\":[]}}}",
            "{\"openSpaceId\":\"dtv1.card//IM_GROUP.x\",\"outTrackId\":\"o\",\"cardTemplateId\":\"t\",\"cardData\":{\"cardParamMap\":{}},\"imGroupOpenSpaceModel\":[],\"imGroupOpenDeliverModel\":{\"robotCode\":1}}",
            "{\"cardData\":\"{\\\"a\\\":1,\\\"a\\\":2}\",\"cardBizId\":\"b\"}",
            "{\"singleChatReceiver\":\"[1]\"}", "{\"updateOptions\":true}", "{\"isFull\":\"true\"}", "{\"userIdType\":1.5}",
            "{\"userIdType\":99999999999999999999}", "\"\"", "{\"a\":" + new string('[', 200) + new string(']', 200) + "}",
        ];
        string[] paths =
        [
            "/v1.0/oauth2/accessToken", "/v1.0/card/callbacks/register", CreateAndDeliverPath, "/v1.0/card/instances",
            "/v1.0/card/instances/deliver", "/v1.0/card/streaming", "/v1.0/im/v1.0/robot/interactiveCards/send",
            "/v1.0/im/robots/interactiveCards",
        ];
        foreach (var path in paths)
        {
            var method = path is "/v1.0/card/streaming" or "/v1.0/im/robots/interactiveCards" ? "PUT" : "POST";
            foreach (var body in bodies)
            {
                data.Add(method, path, body);
            }
        }

        data.Add("PUT", "/v1.0/card/instances", "{\"outTrackId\":\"x\",\"cardData\":{\"cardParamMap\":{\"a\":1}}}");
        return data;
    }

    [Theory]
    [MemberData(nameof(GarbageInputs))]
    public async Task Garbage_input_is_answered_with_a_4xx_never_a_500(string method, string path, string body)
    {
        var reply = await Client.SendAsync(new HttpMethod(method), path, body);

        Assert.InRange((int)reply.Status, 400, 499);
        Assert.False(string.IsNullOrEmpty(reply.Code));
    }

    private Task<SandboxReply> TokenReply(string secret) => Client.PostAsync("/v1.0/oauth2/accessToken", new JsonObject
    {
        ["appKey"] = DingTalk.Options.AppKey,
        ["appSecret"] = secret,
    });
}
