using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.Sandbox.Stream;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>Card callbacks (and the other frames) arriving over the Stream connection, answered the way DingTalk reads them.</summary>
[Collection(StreamGatewayCollection.Name)]
public sealed class StreamCallbackTests(StreamGateway gateway)
{
    [Fact]
    public async Task Cards_sent_while_Stream_is_on_are_created_with_callbackType_STREAM_and_no_route_key()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.poll");

        var card = gateway.DingTalk.State.FindCard(outTrackId)!;
        Assert.Equal("STREAM", card.CallbackType);
        Assert.Null(card.CallbackRouteKey);
    }

    [Fact]
    public async Task A_vote_pushed_over_the_socket_is_answered_inside_response_and_counted_for_everyone()
    {
        using var callbacks = new MetricCollector<long>(
            gateway.App.Services.GetRequiredService<IMeterFactory>(), GatewayMetrics.MeterName, "cardgateway.callbacks");
        var outTrackId = await gateway.SendCardAsync("tpl.poll", new { title = "Lunch?" });

        var answer = await gateway.ClickAsync(outTrackId, "u1", new { action = "vote", option = "noodles" });

        Assert.Equal(200, answer.Code);
        Assert.Equal("OK", answer.Message);
        Assert.Equal("application/json", answer.Headers["contentType"]);
        using var data = JsonDocument.Parse(answer.Data);
        var response = data.RootElement.GetProperty("response");
        Assert.Equal("noodles", response.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myVote").GetString());
        await Eventually.TrueAsync(
            () => gateway.DingTalk.State.FindCard(outTrackId)!.CardData.GetValueOrDefault("votes_noodles") == "1",
            "the tally reaches everyone's card through the card update API");
        Assert.Equal("1", gateway.DingTalk.State.FindCard(outTrackId)!.CardData["total"]);
        Assert.Empty(gateway.Stream.ProtocolErrors);
        Assert.Contains(callbacks.GetMeasurementSnapshot(), m => (string)m.Tags["transport"]! == "stream" && (string)m.Tags["outcome"]! == "handled");
    }

    [Fact]
    public async Task The_same_messageId_delivered_again_is_handled_once_and_answered_alike()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.count");
        var messageId = $"dup-{Guid.NewGuid():N}";

        // Twice at once (before any answer), then again after the answer, as DingTalk does.
        var pushes = await Task.WhenAll(
            gateway.Stream.PushCardCallbackAsync(outTrackId, "u1", new { action = CountingHandler.Action }, messageId),
            gateway.Stream.PushCardCallbackAsync(outTrackId, "u1", new { action = CountingHandler.Action }, messageId));
        var message = pushes[0];
        await message.Answered.WaitAsync(StreamGateway.Patience);
        await gateway.Stream.RedeliverAsync(messageId);
        await Eventually.TrueAsync(() => message.Answers.Count >= message.Deliveries, "every delivery is answered");
        Assert.True(message.Deliveries >= 2);

        Assert.Same(message, pushes[1]);
        Assert.Single(gateway.Invocations.For(outTrackId));
        Assert.All(message.Answers, a => Assert.Equal(message.Answers[0].Data, a.Data));
        Assert.Contains("counted", message.Answers[0].Data, StringComparison.Ordinal);
        Assert.Empty(gateway.Stream.ProtocolErrors);
    }

    [Fact]
    public async Task A_click_pushed_again_on_a_new_connection_while_its_handler_still_runs_is_handled_once_and_gets_the_handlers_answer()
    {
        // A budget long enough that the first delivery's answer is the handler's, not {} at the budget.
        var own = await StreamGateway.StartAsync(new Dictionary<string, string?> { ["Gateway:Callbacks:HandlerBudget"] = "00:00:10" });
        var gate = Guid.NewGuid().ToString("N");
        try
        {
            var outTrackId = await own.SendCardAsync("tpl.slow");
            var connection = await own.OpenConnectionAsync();
            var message = await own.Stream.PushCardCallbackAsync(outTrackId, "u1", new { action = "slow", gate }, $"slow-{Guid.NewGuid():N}");
            await own.Gate.Entered(gate).WaitAsync(StreamGateway.Patience);

            // The socket dies under the running handler; DingTalk, with no answer, pushes the frame on the next connection.
            own.Stream.DropAll();
            await own.OpenConnectionAsync(connection);
            await own.Stream.RedeliverAsync(message.MessageId);
            var callbacks = own.App.Services.GetRequiredService<HandlerDrain>();
            await Eventually.TrueAsync(() => callbacks.Running == 2, "the frame pushed again in the pipeline beside its running handler");
            own.Gate.Open(gate);

            var answer = await message.Answered.WaitAsync(StreamGateway.Patience);
            Assert.Equal(200, answer.Code);
            Assert.Contains("\"mine\":\"late\"", answer.Data, StringComparison.Ordinal);
            await Eventually.TrueAsync(() => own.DingTalk.State.FindCard(outTrackId)?.CardData.GetValueOrDefault("slow") == "done", "the update for everyone");
            Assert.Equal(1, own.Gate.Arrivals(gate));
            var card = await own.Api.GetFromJsonAsync<JsonElement>($"/api/cards/{outTrackId}");
            Assert.Equal("Handled", Assert.Single(card.GetProperty("callbacks").EnumerateArray()).GetProperty("outcome").GetString());
            Assert.Single(own.DingTalk.State.RequestsTo("/v1.0/card/instances"), r => r.Method == "PUT" && r.Body.Contains(outTrackId, StringComparison.Ordinal));
        }
        finally
        {
            own.Gate.Open(gate);
            await own.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_form_sending_its_values_as_text_binds_to_the_handlers_record()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.survey");

        var answer = await gateway.ClickAsync(outTrackId, "u1", new { action = SurveyHandler.Action, rating = "4", topics = "food" });

        using var data = JsonDocument.Parse(answer.Data);
        Assert.Equal("4", data.RootElement.GetProperty("response").GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myRating").GetString());
    }

    [Fact]
    public async Task A_form_value_that_does_not_bind_is_answered_with_an_empty_response_again_on_redelivery_and_logged_once_without_the_value()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.survey");
        var messageId = $"survey-{Guid.NewGuid():N}";
        const string Personal = "13800138000";

        var message = await gateway.Stream.PushCardCallbackAsync(outTrackId, "u1", new { action = SurveyHandler.Action, rating = Personal + "!", topics = "food" }, messageId);
        var first = await message.Answered.WaitAsync(StreamGateway.Patience);
        await gateway.Stream.RedeliverAsync(messageId);
        await Eventually.TrueAsync(() => message.Answers.Count >= 2, "the redelivery is answered");

        Assert.Equal(200, first.Code);
        Assert.Equal("""{"response":{}}""", first.Data);
        Assert.All(message.Answers, a => Assert.Equal(first.Data, a.Data));
        Assert.Single(gateway.Invocations.For(outTrackId));
        var callbackId = gateway.Invocations.For(outTrackId)[0].CallbackId;
        var warning = Assert.Single(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3123 && e.RenderMessage().Contains(callbackId, StringComparison.Ordinal));
        Assert.Equal(Serilog.Events.LogEventLevel.Warning, warning.Level);
        Assert.Null(warning.Exception);
        Assert.Equal(
            $"SurveyHandler could not bind params for callback \"{callbackId}\" (card \"{outTrackId}\", user \"u1\") to Survey: $.rating must be a whole number, not a string that does not read as one. The user got {{}} and the click is recorded HandlerFailed; catch CardParamsException in the handler to answer otherwise",
            warning.RenderMessage());
        Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3102 && e.RenderMessage().Contains(callbackId, StringComparison.Ordinal));
        Assert.DoesNotContain(gateway.Logs.LogEvents, e => e.RenderMessage().Contains(Personal, StringComparison.Ordinal));
        var card = await gateway.Api.GetFromJsonAsync<JsonElement>($"/api/cards/{outTrackId}");
        Assert.Equal("HandlerFailed", Assert.Single(card.GetProperty("callbacks").EnumerateArray()).GetProperty("outcome").GetString());
    }

    [Fact]
    public async Task A_card_callback_the_gateway_cannot_read_is_answered_400_with_the_reason()
    {
        var message = await gateway.Stream.PushAsync(StreamProtocol.Callback, StreamProtocol.CardCallbackTopic, """{"outTrackId":42,"userId":"u1"}""");

        var answer = await message.Answered.WaitAsync(StreamGateway.Patience);

        Assert.Equal(400, answer.Code);
        Assert.Equal("outTrackId must be a string, not a number.", answer.Message);
        Assert.Empty(gateway.Stream.ProtocolErrors);
    }

    [Fact]
    public async Task An_event_is_acknowledged_with_SUCCESS()
    {
        var connection = await gateway.OpenConnectionAsync();

        var message = await gateway.Stream.PushToAsync(connection, StreamProtocol.Event, "*", """{"timestamp":"1685501863357","userId":["015xxxx227"]}""");
        var answer = await message.Answered.WaitAsync(StreamGateway.Patience);

        Assert.Equal(200, answer.Code);
        Assert.Equal("""{"status":"SUCCESS"}""", answer.Data);
        Assert.Empty(gateway.Stream.ProtocolErrors);
    }

    [Fact]
    public async Task A_frame_on_a_topic_the_gateway_does_not_handle_is_answered_404()
    {
        var connection = await gateway.OpenConnectionAsync();

        var message = await gateway.Stream.PushToAsync(connection, StreamProtocol.Callback, "/v1.0/im/bot/messages/get", """{"msgtype":"text"}""");
        var answer = await message.Answered.WaitAsync(StreamGateway.Patience);

        Assert.Equal(404, answer.Code);
        Assert.Contains("/v1.0/im/bot/messages/get", answer.Message, StringComparison.Ordinal);
        Assert.Empty(gateway.Stream.ProtocolErrors);
    }

    [Fact]
    public async Task A_frame_split_into_many_websocket_fragments_is_reassembled_and_answered()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.poll");
        gateway.Stream.FragmentBytes = 7;
        try
        {
            var answer = await gateway.ClickAsync(outTrackId, "u1", new { action = "vote", option = "长面" });

            Assert.Equal(200, answer.Code);
            using var data = JsonDocument.Parse(answer.Data);
            Assert.Equal("长面", data.RootElement.GetProperty("response").GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myVote").GetString());
        }
        finally
        {
            gateway.Stream.FragmentBytes = null;
        }
    }

    [Fact]
    public async Task A_frame_over_the_size_bound_is_discarded_and_the_connection_keeps_serving()
    {
        var connection = await gateway.OpenConnectionAsync();
        var huge = $$"""{"outTrackId":"x","userId":"u1","padding":"{{new string('x', 1024 * 1024)}}"}""";

        var tooLarge = await gateway.Stream.PushToAsync(connection, StreamProtocol.Callback, StreamProtocol.CardCallbackTopic, huge);
        var ping = await connection.PingAsync();
        await ping.Answered.WaitAsync(StreamGateway.Patience); // the socket is read in order: the big frame came and went

        Assert.False(tooLarge.Answered.IsCompleted);
        Assert.True(connection.IsOpen);
        Assert.Contains(gateway.Logs.LogEvents, e => e.MessageTemplate.Text.Contains("MaxFrameBytes", StringComparison.Ordinal));
        Assert.Empty(gateway.Stream.ProtocolErrors);
    }

    [Fact]
    public async Task HTTP_callbacks_keep_working_for_cards_created_with_callbackType_HTTP()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.poll", callbackType: "HTTP");
        using var dingTalk = gateway.App.CreateClient();

        using var request = DingTalkCallback.Signed(DingTalkCallback.Body(outTrackId, "u1", new { action = "vote", option = "rice" }), GatewayFactory.ApiSecret);
        var answer = await HttpAssert.JsonAsync(await dingTalk.SendAsync(request), HttpStatusCode.OK);

        Assert.Equal("rice", answer.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myVote").GetString());
        Assert.Equal("HTTP", gateway.DingTalk.State.FindCard(outTrackId)!.CallbackType);
        await Assert.ThrowsAsync<InvalidOperationException>(() => gateway.Stream.PushCardCallbackAsync(outTrackId, "u1", new { action = "vote" }));
    }

    [Fact]
    public async Task A_robot_card_sent_with_no_public_url_carries_no_callback_url_DingTalk_cannot_reach_and_says_its_buttons_reach_no_one()
    {
        // A normal robot card calls back only over HTTP, to the URL it is sent with: this Stream-only gateway has none to
        // give, and the address it listens on (127.0.0.1) is no URL DingTalk can reach.
        var cardBizId = $"robot-{Guid.NewGuid():N}";
        var sent = await gateway.Api.PostAsJsonAsync("/api/robot-cards", new
        {
            cardBizId,
            openConversationId = "cidTest==",
            cardData = new { contents = new object[] { new { type = "markdown", text = "Lunch?", id = "intro" } } },
        });
        await HttpAssert.JsonAsync(sent, HttpStatusCode.Created);

        Assert.Null(gateway.DingTalk.State.FindRobotCard(cardBizId)!.CallbackUrl);
        var warning = Assert.Single(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3124 && e.RenderMessage().Contains(cardBizId, StringComparison.Ordinal));
        Assert.Contains("DingTalk:Callback:PublicBaseUrl", warning.RenderMessage(), StringComparison.Ordinal);
    }
}
