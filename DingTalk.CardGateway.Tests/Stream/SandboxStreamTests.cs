using System.Net;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.CardGateway.Tests.SandboxTests;
using DingTalk.Sandbox.Stream;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>The fake's Stream side is as strict as DingTalk: tickets, subscriptions, and the shape of every answer.</summary>
public sealed class SandboxStreamTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private FakeDingTalk _dingTalk = null!;

    private SandboxStream Stream => _dingTalk.State.Stream;

    public async Task InitializeAsync()
    {
        _dingTalk = await FakeDingTalk.StartAsync();
        Stream.PingInterval = TimeSpan.Zero; // the tests read frames one by one
    }

    public async Task DisposeAsync() => await _dingTalk.DisposeAsync();

    public static TheoryData<string> VectorAcks() => [.. VectorFrames().Where(v => v["ack"] is JsonObject || v["ack_minimal_json"] is JsonObject).Select(v => v["name"]!.GetValue<string>())];

    [Theory]
    [InlineData(null, "InvalidParameter.Accept", HttpStatusCode.NotAcceptable)]
    [InlineData("""{"clientId":"sandbox-app-key","clientSecret":"wrong","subscriptions":[{"type":"CALLBACK","topic":"/v1.0/card/instances/callback"}]}""", "invalidClientIdOrSecret", HttpStatusCode.BadRequest)]
    [InlineData("""{"clientId":"sandbox-app-key","clientSecret":"sandbox-app-secret"}""", "Missingsubscriptions", HttpStatusCode.BadRequest)]
    [InlineData("""{"clientId":"sandbox-app-key","clientSecret":"sandbox-app-secret","subscriptions":[]}""", "InvalidParameter", HttpStatusCode.BadRequest)]
    [InlineData("""{"clientId":"sandbox-app-key","clientSecret":"sandbox-app-secret","subscriptions":[{"type":"CALLBACKS","topic":"/v1.0/card/instances/callback"}]}""", "InvalidParameter", HttpStatusCode.BadRequest)]
    [InlineData("""{"clientId":"sandbox-app-key","clientSecret":"sandbox-app-secret","subscriptions":[{"type":"CALLBACK","topik":"/v1.0/card/instances/callback"}]}""", "InvalidParameter", HttpStatusCode.BadRequest)]
    public async Task Opening_a_connection_is_refused_without_json_accept_valid_credentials_or_subscriptions(string? body, string code, HttpStatusCode status)
    {
        var reply = await OpenAsync(body ?? """{"clientId":"sandbox-app-key"}""", accept: body is not null);

        Assert.Equal(status, reply.Status);
        Assert.Equal(code, reply.Code);
        Assert.Equal(0, Stream.TicketsIssued);
    }

    [Fact]
    public async Task A_ticket_opens_one_connection_at_the_endpoint_it_names_and_is_refused_the_second_time()
    {
        var (endpoint, ticket) = await RawStreamClient.OpenAsync(_dingTalk);

        Assert.Equal($"ws://{_dingTalk.BaseAddress.Authority}/connect", endpoint);
        using var first = new ClientWebSocket();
        await first.ConnectAsync(new Uri($"{endpoint}?ticket={ticket}"), CancellationToken.None);
        using var second = new ClientWebSocket();
        var refused = await Assert.ThrowsAsync<WebSocketException>(() => second.ConnectAsync(new Uri($"{endpoint}?ticket={ticket}"), CancellationToken.None));

        Assert.Contains("401", refused.Message, StringComparison.Ordinal);
        Assert.Single(Stream.Connections);
        Assert.Contains("already used", Assert.Single(Stream.TicketRejections).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_expired_or_unknown_ticket_is_refused()
    {
        Stream.TicketLifetime = TimeSpan.Zero;
        var (endpoint, ticket) = await RawStreamClient.OpenAsync(_dingTalk);

        using var expired = new ClientWebSocket();
        await Assert.ThrowsAsync<WebSocketException>(() => expired.ConnectAsync(new Uri($"{endpoint}?ticket={ticket}"), CancellationToken.None));
        using var unknown = new ClientWebSocket();
        await Assert.ThrowsAsync<WebSocketException>(() => unknown.ConnectAsync(new Uri($"{endpoint}?ticket=made-up"), CancellationToken.None));

        Assert.Empty(Stream.Connections);
        Assert.Collection(
            Stream.TicketRejections,
            r => Assert.Contains("expired", r.Reason, StringComparison.Ordinal),
            r => Assert.Contains("unknown ticket", r.Reason, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(VectorAcks))]
    public async Task The_published_answers_are_accepted(string name)
    {
        var vector = VectorFrames().Single(v => v["name"]!.GetValue<string>() == name);
        var frame = vector["frame"]!;
        var type = frame["type"]?.GetValue<string>() ?? StreamProtocol.System;
        var topic = frame["headers"]!["topic"]!.GetValue<string>();
        await using var client = await RawStreamClient.ConnectAsync(_dingTalk, (type, topic));
        var connection = await Stream.WaitForConnectionAsync(c => c.IsOpen, new CancellationTokenSource(Patience).Token);

        var pushed = type == StreamProtocol.System
            ? await Stream.PushToAsync(connection, type, topic, frame["data"]!.GetValue<string>())
            : await Stream.PushAsync(type, topic, frame["data"]!.GetValue<string>());
        var received = await client.ReceiveAsync(pushed.MessageId);
        Assert.Equal(frame["data"]!.GetValue<string>(), received["data"]!.GetValue<string>());
        foreach (var ack in new[] { vector["ack"], vector["ack_minimal_json"], ParsedOrNull(vector["ack_exact_python_sdk_bytes"]) }.OfType<JsonObject>())
        {
            var text = ack.ToJsonString().Replace(ack["headers"]!["messageId"]!.GetValue<string>(), pushed.MessageId, StringComparison.Ordinal);
            await client.SendAsync(text);
        }

        await pushed.Answered.WaitAsync(Patience);
        Assert.Empty(Stream.ProtocolErrors);
    }

    [Theory]
    [InlineData("""{"cardData":{"cardParamMap":{"a":"1"}}}""", "bare card update")]
    [InlineData("""{"response":{"cardData":{"cardParamMap":{"a":1}}}}""", "response.cardData.cardParamMap.a must be a string")]
    [InlineData("""{"response":{"cardData":{"cardParamMap":{"a":"1"}},"privateData":{}}}""", "unknown property 'response.privateData'")]
    [InlineData("not json", "not JSON")]
    public async Task A_card_callback_answer_of_the_wrong_shape_is_a_protocol_error_and_the_frame_is_pushed_again(string data, string problem)
    {
        Stream.RedeliveryDelay = TimeSpan.FromMilliseconds(200);
        await using var client = await RawStreamClient.ConnectAsync(_dingTalk);
        await Stream.WaitForConnectionAsync(c => c.IsOpen, new CancellationTokenSource(Patience).Token);

        var pushed = await Stream.PushAsync(StreamProtocol.Callback, StreamProtocol.CardCallbackTopic, "{}");
        await client.ReceiveAsync(pushed.MessageId);
        await client.AnswerAsync(pushed.MessageId, data);
        var again = await client.ReceiveAsync(pushed.MessageId);

        Assert.Contains(problem, Assert.Single(Stream.ProtocolErrors).Problem, StringComparison.Ordinal);
        Assert.False(pushed.IsSettled);
        Assert.Equal(pushed.MessageId, again["headers"]!["messageId"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"code":200,"headers":{"contentType":"application/json","messageId":"%ID%"},"message":"OK","data":"{\"opaque\":\"other\"}"}""", "echo")]
    [InlineData("""{"code":200,"headers":{"contentType":"application/json","messageId":"nobody-sent-this"},"message":"OK","data":"{}"}""", "never sent")]
    [InlineData("""{"code":200,"headers":{"messageId":"%ID%"},"message":"OK","data":"{}"}""", "contentType")]
    [InlineData("""{"code":"200","headers":{"contentType":"application/json","messageId":"%ID%"},"message":"OK","data":"{}"}""", "code must be")]
    [InlineData("""{"code":200,"headers":{"contentType":"application/json","messageId":"%ID%"},"message":"OK","data":{}}""", "data must be a string")]
    [InlineData("""{"code":200,"headers":{"contentType":"application/json","messageId":"%ID%"},"message":"OK","data":"{}","extra":1}""", "unknown property 'extra'")]
    public async Task A_ping_answer_that_is_not_an_exact_echo_in_the_right_envelope_is_a_protocol_error(string answer, string problem)
    {
        await using var client = await RawStreamClient.ConnectAsync(_dingTalk);
        var connection = await Stream.WaitForConnectionAsync(c => c.IsOpen, new CancellationTokenSource(Patience).Token);

        var ping = await connection.PingAsync("""{"opaque":"mine"}""");
        await client.ReceiveAsync(ping.MessageId);
        await client.SendAsync(answer.Replace("%ID%", ping.MessageId, StringComparison.Ordinal));

        var error = await WaitForProtocolErrorAsync();
        Assert.Contains(problem, error.Problem, StringComparison.Ordinal);
        Assert.False(ping.Answered.IsCompleted);
    }

    [Fact]
    public async Task An_answer_on_another_connection_than_the_frame_went_to_is_a_protocol_error()
    {
        await using var first = await RawStreamClient.ConnectAsync(_dingTalk);
        var connection = await Stream.WaitForConnectionAsync(c => c.IsOpen, new CancellationTokenSource(Patience).Token);
        await using var second = await RawStreamClient.ConnectAsync(_dingTalk);

        var ping = await connection.PingAsync();
        await first.ReceiveAsync(ping.MessageId);
        await second.AnswerAsync(ping.MessageId, ping.Data);

        Assert.Contains("never got that frame", (await WaitForProtocolErrorAsync()).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Disconnect_is_followed_by_the_sandbox_closing_the_socket_after_the_grace_period()
    {
        await using var client = await RawStreamClient.ConnectAsync(_dingTalk);
        var connection = await Stream.WaitForConnectionAsync(c => c.IsOpen, new CancellationTokenSource(Patience).Token);

        var disconnect = await connection.SendDisconnectAsync(closeAfter: TimeSpan.FromMilliseconds(100));
        var frame = await client.ReceiveAsync(disconnect.MessageId);

        Assert.Equal("SYSTEM", frame["type"]!.GetValue<string>());
        Assert.Equal("disconnect", frame["headers"]!["topic"]!.GetValue<string>());
        Assert.Null(await client.ReceiveAsync()); // the close frame
        await connection.Closed.WaitAsync(Patience);
        Assert.Equal("closed by the sandbox after disconnect", connection.CloseReason);
    }

    [Fact]
    public async Task A_card_callback_is_only_pushed_for_a_card_created_with_callbackType_STREAM()
    {
        using var sandbox = new SandboxClient(_dingTalk);
        await sandbox.LoginAsync();
        var httpCard = ValidRequests.CreateAndDeliver("http-card");
        httpCard["callbackType"] = "HTTP";
        httpCard["callbackRouteKey"] = "route";
        Assert.Equal(HttpStatusCode.OK, (await sandbox.PostAsync("/v1.0/card/instances/createAndDeliver", httpCard)).Status);
        Assert.Equal(HttpStatusCode.OK, (await sandbox.PostAsync("/v1.0/card/instances/createAndDeliver", ValidRequests.CreateAndDeliver("stream-card"))).Status);
        await using var client = await RawStreamClient.ConnectAsync(_dingTalk);

        await Assert.ThrowsAsync<InvalidOperationException>(() => Stream.PushCardCallbackAsync("http-card", "user-1", new { action = "vote" }));
        await Assert.ThrowsAsync<InvalidOperationException>(() => Stream.PushCardCallbackAsync("no-such-card", "user-1", new { action = "vote" }));
        var pushed = await Stream.PushCardCallbackAsync("stream-card", "user-1", new { action = "vote", option = "A" });
        var frame = await client.ReceiveAsync(pushed.MessageId);

        var data = JsonNode.Parse(frame["data"]!.GetValue<string>())!;
        Assert.Equal("stream-card", data["outTrackId"]!.GetValue<string>());
        Assert.Equal("A", JsonNode.Parse(data["content"]!.GetValue<string>())!["cardPrivateData"]!["params"]!["option"]!.GetValue<string>());
    }

    private static JsonObject? ParsedOrNull(JsonNode? text) => text is JsonValue value ? JsonNode.Parse(value.GetValue<string>()) as JsonObject : null;

    private static IEnumerable<JsonObject> VectorFrames() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(NodeScript.RepoRoot(), "DingTalk.CardGateway.Tests", "Stream", "Vectors", "stream_frames.json")))!
            ["downstream_and_ack"]!.AsArray().Cast<JsonObject>();

    private async Task<SandboxStreamProtocolError> WaitForProtocolErrorAsync()
    {
        var deadline = DateTime.UtcNow + Patience;
        while (Stream.ProtocolErrors.Count == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "no protocol error was recorded");
            await Task.Delay(20);
        }

        return Assert.Single(Stream.ProtocolErrors);
    }

    private async Task<SandboxReply> OpenAsync(string body, bool accept)
    {
        using var http = _dingTalk.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, StreamProtocol.OpenConnectionPath.TrimStart('/'))
        {
            Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
        };
        if (accept)
        {
            request.Headers.Accept.ParseAdd("application/json");
        }

        using var response = await http.SendAsync(request);
        return new SandboxReply(response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync()), null, null);
    }
}
