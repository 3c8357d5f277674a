using DingTalk.CardGateway.Tests.Fixtures;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Stream;
using DingTalk.CardGateway.Stream.Wire;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>The frames and answers of <c>stream_frames.json</c> (DingTalk's protocol document and SDKs), read and written by the gateway.</summary>
public sealed class StreamFrameTests
{
    public static TheoryData<string> Frames() => [.. Vectors().Select(v => v["name"]!.GetValue<string>())];

    [Theory]
    [MemberData(nameof(Frames))]
    public void Every_published_frame_reads_with_its_type_topic_messageId_and_data(string name)
    {
        var frame = Vector(name)["frame"]!;

        Assert.True(StreamFrame.TryParse(Encoding.UTF8.GetBytes(frame.ToJsonString()), out var read, out var problem), problem);

        Assert.Equal(frame["type"]!.GetValue<string>(), read.Type);
        Assert.Equal(frame["headers"]!["topic"]!.GetValue<string>(), read.Topic);
        Assert.Equal(frame["headers"]!["messageId"]!.GetValue<string>(), read.MessageId);
        Assert.Equal(frame["data"]!.GetValue<string>(), read.Data);
    }

    [Fact]
    public void The_ping_answer_is_the_published_one()
    {
        var vector = Vector("system_ping");
        var ping = vector["frame"]!;

        var ack = StreamAck.Ok(ping["headers"]!["messageId"]!.GetValue<string>(), ping["data"]!.GetValue<string>());

        Assert.True(JsonNode.DeepEquals(vector["ack"], JsonSerializer.SerializeToNode(ack, GatewayJson.Options)));
    }

    [Fact]
    public void The_card_callback_answer_wraps_the_update_in_response_as_the_published_one_does()
    {
        var vector = Vector("callback_card_action");
        var expected = vector["ack_minimal_json"]!;
        var update = JsonNode.Parse(expected["data"]!.GetValue<string>())!["response"]!.ToJsonString();

        var ack = StreamAck.Ok(vector["frame"]!["headers"]!["messageId"]!.GetValue<string>(), $$"""{"response":{{update}}}""");
        var written = JsonSerializer.SerializeToNode(ack, GatewayJson.Options)!;

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected["data"]!.GetValue<string>()), JsonNode.Parse(written["data"]!.GetValue<string>())));
        written["data"] = expected["data"]!.GetValue<string>();
        Assert.True(JsonNode.DeepEquals(expected, written));
    }

    [Theory]
    [InlineData("""{"type":"CALLBACK","headers":{"topic":"/v1.0/card/instances/callback"},"data":"{}"}""", "no headers.messageId")]
    [InlineData("""[1,2]""", "not a JSON object")]
    [InlineData("""{"type":"CALL""", "not valid JSON")]
    [InlineData("""{"type":"CALLBACK","headers":{"topic":"/v1.0/card/instances/callback","messageId":"m\ud800"},"data":"{}"}""", "half a surrogate pair")]
    [InlineData("""{"type":"CALLBACK","headers":{"topic":"/v1.0/card/instances/callback","messageId":"m1"},"data":"{\"userId\":\"\udc00\"}"}""", "half a surrogate pair")]
    public void A_frame_that_cannot_be_answered_is_refused_with_the_reason(string text, string problem)
    {
        Assert.False(StreamFrame.TryParse(Encoding.UTF8.GetBytes(text), out _, out var reason));

        Assert.Contains(problem, reason, StringComparison.Ordinal);
    }

    private static JsonObject Vector(string name) => Vectors().Single(v => v["name"]!.GetValue<string>() == name);

    private static IEnumerable<JsonObject> Vectors() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(NodeScript.RepoRoot(), "DingTalk.CardGateway.Tests", "Stream", "Vectors", "stream_frames.json")))!
            ["downstream_and_ack"]!.AsArray().Cast<JsonObject>();
}
