using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DingTalk.CardGateway.Callbacks;

namespace DingTalk.CardGateway.Tests.Callbacks;

public class CardActionParserTests
{
    /// <summary>What each published (or composed) payload in card_callback_payloads.json must read as: action ids and params.</summary>
    private static readonly Dictionary<string, (string[] ActionIds, string Params)> Expected = new()
    {
        ["http_advanced_official_min"] = (["1"], """{"action":"accept"}"""),
        ["stream_advanced_official_full"] = (["single_button_node_ocltl6e6foq"], """{"action":"like"}"""),
        ["http_advanced_realistic_composed"] = (["agree_btn"], """{"action":"agree","approvalId":"2025-000123"}"""),
        ["form_submit_content"] = (["form"], """{"form":{"date":"2024-06-13","datetime":"2024-06-13 10:26","select":{"index":2,"value":"3"},"multi_select":{"index":[1,2],"value":["2","3"]},"text":"222","checkbox_readonly":true,"system_params_1":"asdf"}}"""),
        ["member_profile_card_numeric_param"] = (["like"], """{"like":"1","likeNum":26}"""),
        ["legacy_value_only_shape"] = (["1"], """{"action":"agree"}"""),
        ["group_template_robot_legacy"] = (["1"], "{}"),
    };

    public static TheoryData<string> PayloadIds()
    {
        var data = new TheoryData<string>();
        foreach (var request in Vectors.Load("card_callback_payloads.json").GetProperty("requests").EnumerateArray())
        {
            data.Add(request.GetProperty("id").GetString()!);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(PayloadIds))]
    public void Every_documented_payload_shape_is_read(string id)
    {
        var body = BodyOf(id);

        Assert.True(CardActionParser.TryParse(body, CallbackTransport.Http, "1735689600000", out var action, out var problem), problem);
        Assert.True(Expected.ContainsKey(id), $"No expectation written down for vector {id}");
        var (actionIds, parameters) = Expected[id];
        Assert.Equal(actionIds, action.ActionIds);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(parameters), JsonNode.Parse(action.Params.GetRawText())), action.Params.GetRawText());
        Assert.Equal(CardActionType.ActionCallback, action.Type);
        Assert.False(string.IsNullOrEmpty(action.CardId));
        Assert.False(string.IsNullOrEmpty(action.UserId));
    }

    [Fact]
    public void The_full_stream_payload_keeps_corp_and_space()
    {
        Assert.True(CardActionParser.TryParse(BodyOf("stream_advanced_official_full"), CallbackTransport.Stream, "msg-1", out var action, out _));
        Assert.Equal(("xxxx", "xxxx", "dingxxxx", "im", "cidxxxx", "like"), (action.OutTrackId, action.UserId, action.CorpId, action.SpaceType, action.SpaceId, action.Action));
    }

    [Fact]
    public void Params_values_keep_their_json_kinds()
    {
        var body = Body(new { outTrackId = "c", userId = "u", content = CardClick.Content(new { s = "x", n = 1.5, b = true, a = new[] { 1, 2 }, o = new { k = "v" }, z = (string?)null }) });

        Assert.True(CardActionParser.TryParse(body, CallbackTransport.Http, null, out var action, out _));
        Assert.Equal("""{"s":"x","n":1.5,"b":true,"a":[1,2],"o":{"k":"v"},"z":null}""", action.Params.GetRawText());
        Assert.Null(action.Action);
    }

    [Fact]
    public void Content_given_as_an_object_is_read_too()
    {
        var body = Body(new { outTrackId = "c", userId = "u", content = new { cardPrivateData = new { actionIds = new[] { "b" }, @params = new { action = "vote" } } } });

        Assert.True(CardActionParser.TryParse(body, CallbackTransport.Http, null, out var action, out _));
        Assert.Equal("vote", action.Action);
    }

    [Fact]
    public void Content_wins_over_the_older_value()
    {
        var body = Body(new { outTrackId = "c", userId = "u", content = CardClick.Content(new { action = "new" }), value = CardClick.Content(new { action = "old" }) });

        Assert.True(CardActionParser.TryParse(body, CallbackTransport.Http, null, out var action, out _));
        Assert.Equal("new", action.Action);
    }

    [Fact]
    public void A_robot_card_is_named_by_cardBizId_or_else_outTrackId()
    {
        Assert.True(CardActionParser.TryParse(Body(new { cardBizId = "biz", outTrackId = "track", userId = "u" }), CallbackTransport.RobotHttp, null, out var both, out _));
        Assert.True(CardActionParser.TryParse(Body(new { outTrackId = "track", userId = "u" }), CallbackTransport.RobotHttp, null, out var onlyTrack, out _));
        Assert.Equal("biz", both.CardId);
        Assert.Equal("track", onlyTrack.CardId);
    }

    [Fact]
    public void A_dynamic_data_pull_needs_no_user()
    {
        Assert.True(CardActionParser.TryParse(Body(new { type = "dynamicDataCallback", outTrackId = "c" }), CallbackTransport.Http, null, out var action, out _));
        Assert.Equal(CardActionType.DynamicDataCallback, action.Type);
    }

    [Fact]
    public void The_callback_id_is_the_same_for_a_redelivery_and_differs_otherwise()
    {
        var body = DingTalkCallback.Body("card", "u1", new { action = "vote", option = "A" });
        string Id(string b, string stamp) => CardActionParser.TryParse(Encoding.UTF8.GetBytes(b), CallbackTransport.Http, stamp, out var a, out _) ? a.CallbackId : "";

        Assert.Equal(Id(body, "1"), Id(body, "1"));
        Assert.NotEqual(Id(body, "1"), Id(body, "2"));
        Assert.NotEqual(Id(body, "1"), Id(DingTalkCallback.Body("card", "u2", new { action = "vote", option = "A" }), "1"));
        Assert.NotEqual(Id(body, "1"), Id(DingTalkCallback.Body("card", "u1", new { action = "vote", option = "B" }), "1"));
    }

    [Fact]
    public void Signed_callback_ids_grow_with_their_timestamp_and_Stream_ids_are_plain_hashes()
    {
        var body = Encoding.UTF8.GetBytes(DingTalkCallback.Body("card", "u1", new { action = "vote", option = "A" }));
        string Id(CallbackTransport transport, string? stamp) => CardActionParser.TryParse(body, transport, stamp, out var a, out _) ? a.CallbackId : "";

        var earlier = Id(CallbackTransport.Http, "1735689600000");
        var later = Id(CallbackTransport.Http, "1735689600001");
        Assert.StartsWith("1735689600000.", earlier, StringComparison.Ordinal);
        Assert.True(string.CompareOrdinal(earlier, later) < 0, $"{earlier} should sort before {later}");
        Assert.True(string.CompareOrdinal(Id(CallbackTransport.Http, "999"), earlier) < 0, "shorter stamps are padded, so order holds");

        var stream = Id(CallbackTransport.Stream, "1735689600000");
        Assert.DoesNotContain(".", stream, StringComparison.Ordinal);
        Assert.Equal(22, stream.Length); // 16 bytes of SHA-256, base64url
        Assert.DoesNotContain(".", Id(CallbackTransport.Http, "not-a-number"), StringComparison.Ordinal);
        Assert.DoesNotContain(".", Id(CallbackTransport.Http, null), StringComparison.Ordinal);
    }

    public static TheoryData<string, string> MalformedBodies => new()
    {
        { "not json", "The body is not valid JSON" },
        { "", "The body is not valid JSON" },
        { "[1,2]", "The body must be a JSON object, not an array." },
        { "\"text\"", "The body must be a JSON object, not a string." },
        { """{"userId":"u"}""", "outTrackId is required." },
        { """{"outTrackId":"","userId":"u"}""", "outTrackId is required." },
        { """{"outTrackId":"c"}""", "userId is required." },
        { """{"outTrackId":5,"userId":"u"}""", "outTrackId must be a string, not a number." },
        { """{"outTrackId":"c","userId":["u"]}""", "userId must be a string, not an array." },
        { """{"outTrackId":"c","userId":"u","type":"weird"}""", "type must be actionCallback or dynamicDataCallback." },
        { """{"outTrackId":"c","userId":"u","type":true}""", "type must be a string, not a boolean." },
        { """{"outTrackId":"c","userId":"u","content":7}""", "content must be a JSON string (or object), not a number." },
        { """{"outTrackId":"c","userId":"u","content":"{not json"}""", "content must be a JSON string holding a JSON object; it does not parse as JSON." },
        { """{"outTrackId":"c","userId":"u","value":"[1]"}""", "value must hold a JSON object, not an array." },
        { """{"outTrackId":"c","userId":"u","content":{"cardPrivateData":[]}}""", "content.cardPrivateData must be an object, not an array." },
        { """{"outTrackId":"c","userId":"u","content":{"cardPrivateData":{"params":"x"}}}""", "params must be a JSON object, not a string." },
        { """{"outTrackId":"c","userId":"u","content":{"params":[1]}}""", "params must be a JSON object, not an array." },
        { """{"outTrackId":"c","userId":"u","content":{"cardPrivateData":{"actionIds":[{}]}}}""", "actionIds must hold strings, not an object." },
        { """{"outTrackId":"c","userId":"u","content":{"cardPrivateData":{"actionIds":7}}}""", "actionIds must be an array of strings, not a number." },
        { "{\"outTrackId\":\"c\",\"userId\":\"u\",\"x\":" + new string('[', 100) + new string(']', 100) + "}", "The body is not valid JSON" },
        { "{\"outTrackId\":\"\\ud800\",\"userId\":\"u\"}", "The body holds a string escape that is not valid Unicode" },
        { "{\"outTrackId\":\"" + new string('c', 300) + "\",\"userId\":\"u\"}", "outTrackId is longer than 256 characters." },
    };

    [Theory]
    [MemberData(nameof(MalformedBodies))]
    public void An_odd_body_gets_one_sentence_saying_what_is_wrong(string body, string expected)
    {
        Assert.False(CardActionParser.TryParse(Encoding.UTF8.GetBytes(body), CallbackTransport.Http, null, out _, out var problem));
        Assert.StartsWith(expected, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Nesting_deep_inside_content_is_refused_too()
    {
        var content = "{\"cardPrivateData\":{\"params\":{\"a\":" + new string('[', 200) + new string(']', 200) + "}}}";
        Assert.False(CardActionParser.TryParse(Body(new { outTrackId = "c", userId = "u", content }), CallbackTransport.Http, null, out _, out var problem));
        Assert.Equal("content must be a JSON string holding a JSON object; it does not parse as JSON.", problem);
    }

    private static byte[] Body(object body) => JsonSerializer.SerializeToUtf8Bytes(body);

    private static byte[] BodyOf(string id)
    {
        var vector = Vectors.Load("card_callback_payloads.json").GetProperty("requests").EnumerateArray().Single(r => r.GetProperty("id").GetString() == id);
        if (vector.TryGetProperty("body", out var body))
        {
            return Encoding.UTF8.GetBytes(body.GetRawText());
        }

        if (vector.TryGetProperty("frame", out var frame))
        {
            return Encoding.UTF8.GetBytes(frame.GetProperty("data").GetString()!);
        }

        // Only the parsed content is published: wrap it the way DingTalk does, as a JSON string.
        return Body(new { outTrackId = "form-card", userId = "u1", content = vector.GetProperty("content_parsed").GetRawText() });
    }
}
