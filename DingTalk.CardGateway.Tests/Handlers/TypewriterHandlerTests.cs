using System.Text.Json;
using DingTalk.CardGateway.Handlers.Typewriter;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Handlers;

/// <summary>The shipped typewriter, end to end: an "ask" click streams the text source's reply into the card's <c>content</c>.</summary>
[Collection(CallbackGatewayCollection.Name)]
public class TypewriterHandlerTests(CallbackGateway gateway)
{
    [Fact]
    public async Task Asking_streams_the_whole_reply_into_content_ending_with_a_final_frame()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.assistant", new { content = "" });

        var answer = await gateway.ClickAsync(outTrackId, "u1", new { action = "ask", question = "What is a card gateway?" });

        Assert.Equal("{}", answer.GetRawText());
        var card = await Eventually.ValueAsync(
            () => gateway.DingTalk.State.FindCard(outTrackId) is { } c && c.IsStreamingFinalized("content") ? c : null, "the final streaming frame");
        var frames = card.StreamingFrames;
        Assert.All(frames, f => Assert.Equal("content", f.Key));
        Assert.All(frames, f => Assert.True(f.IsFull, "every frame carries the whole text so far"));
        Assert.True(frames[^1].IsFinalize);
        Assert.False(frames[^1].IsError);
        Assert.Single(frames, f => f.IsFinalize);
        Assert.Equal(EchoTextSource.ReplyTo("What is a card gateway?"), frames[^1].Content);
        Assert.All(frames, f => Assert.StartsWith(f.Content, frames[^1].Content, StringComparison.Ordinal));
    }

    /// <summary>
    /// A frame DingTalk refuses for good ends the typing with error 3105, which must say so: the operator reads that the
    /// text stopped, not that the card missed an update for everyone (those are in the outbox and go out regardless).
    /// </summary>
    [Fact]
    public async Task A_frame_DingTalk_refuses_stops_the_typing_and_the_log_says_the_text_stopped()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.assistant", new { content = "" });
        gateway.DingTalk.State.FailNext(HttpMethod.Put, "/v1.0/card/streaming", 400, "param.cardNotExist", bodyContains: outTrackId);

        await gateway.ClickAsync(outTrackId, "u1", new { action = "ask", question = "hello" });

        var logged = await Eventually.ValueAsync(
            () => gateway.Logs.LogEvents.FirstOrDefault(e => CardCallbackEndpointTests.EventId(e) == 3105 && e.RenderMessage().Contains(outTrackId, StringComparison.Ordinal)),
            "the failed typing logged");
        Assert.Contains("typing stopped", logged.RenderMessage(), StringComparison.Ordinal);
        Assert.DoesNotContain("not updated for everyone", logged.RenderMessage(), StringComparison.Ordinal);
        Assert.Empty(gateway.DingTalk.State.FindCard(outTrackId)!.StreamingFrames); // the refused frame was the first and only one
    }

    /// <summary>
    /// DingTalk refuses streaming frames to one card that come closer than ~500 ms with a 403 whose body it does not
    /// publish (dingtalk-wire.md §1). A 403 on the streaming API that names no permission and no quota is taken for that
    /// refusal: the frame is sent again (its guid makes a repeat count once) after the throttling wait, and the text
    /// goes on to its final frame, rather than stopping mid-text with the card left typing for ever.
    /// </summary>
    [Theory]
    [InlineData("application/json", "{\"code\":\"Forbidden.AccessDenied\",\"message\":\"too frequent\",\"requestid\":\"r-1\"}")]
    [InlineData("application/json", "")]
    [InlineData("text/plain", "Forbidden")]
    public async Task A_frame_refused_with_an_unnamed_403_is_sent_again_and_the_text_ends_finalised(string contentType, string body)
    {
        var outTrackId = await gateway.SendCardAsync("tpl.assistant", new { content = "" });
        var frames = 0;
        gateway.DingTalk.AnswerInstead = (method, path) =>
            method == HttpMethod.Put && path == "/v1.0/card/streaming" && Interlocked.Increment(ref frames) == 2 ? new FakeDingTalk.RawAnswer(403, contentType, body) : null;
        try
        {
            await gateway.ClickAsync(outTrackId, "u1", new { action = "ask", question = "pace" });

            var card = await Eventually.ValueAsync(
                () => gateway.DingTalk.State.FindCard(outTrackId) is { } c && c.IsStreamingFinalized("content") ? c : null, "the final streaming frame");
            Assert.Equal(EchoTextSource.ReplyTo("pace"), card.StreamingFrames[^1].Content);
            Assert.False(card.StreamingFrames[^1].IsError);
            Assert.True(Volatile.Read(ref frames) >= 3, "the refused frame was sent again");
        }
        finally
        {
            gateway.DingTalk.AnswerInstead = null;
        }
    }

    /// <summary>The boundary of the above: a 403 that names a missing permission is not retried, and ends the typing at once.</summary>
    [Fact]
    public async Task A_frame_refused_for_a_missing_permission_is_not_sent_again()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.assistant", new { content = "" });
        gateway.DingTalk.State.DenyPermissionNext(HttpMethod.Put, "/v1.0/card/streaming", ["Card.Streaming.Write"], bodyContains: outTrackId);

        await gateway.ClickAsync(outTrackId, "u1", new { action = "ask", question = "hello" });

        await Eventually.ValueAsync(
            () => gateway.Logs.LogEvents.FirstOrDefault(e => CardCallbackEndpointTests.EventId(e) == 3105 && e.RenderMessage().Contains(outTrackId, StringComparison.Ordinal)),
            "the failed typing logged");
        Assert.Single(gateway.DingTalk.State.RequestsTo("/v1.0/card/streaming"), r => r.Body.Contains(outTrackId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_typed_text_is_kept_on_the_stored_card()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.assistant", new { content = "" });

        await gateway.ClickAsync(outTrackId, "u1", new { action = "ask", prompt = "hello" });

        await Eventually.TrueAsync(
            async () => (await gateway.Api.GetStringAsync($"/api/cards/{outTrackId}")).Contains("Lorem ipsum", StringComparison.Ordinal),
            "the stored card to hold the reply");
    }

    [Fact]
    public async Task Asking_on_a_normal_robot_card_types_with_successive_updates()
    {
        var (cardBizId, path) = await gateway.SendRobotCardAsync(new
        {
            header = new { title = new { type = "text", text = "Assistant" } },
            contents = new object[] { new { type = "markdown", text = "Ask me", id = "intro" }, new { type = "markdown", text = "", id = "content" } },
        });
        using var request = DingTalkCallback.Post(path, System.Text.Encoding.UTF8.GetBytes(DingTalkCallback.RobotBody(cardBizId, "u1", new { action = "ask", question = "hi" })));

        using var response = await gateway.DingTalkClient.SendAsync(request);

        response.EnsureSuccessStatusCode();
        var reply = EchoTextSource.ReplyTo("hi");
        var card = await Eventually.ValueAsync(
            () => gateway.DingTalk.State.FindRobotCard(cardBizId) is { } c && c.CardData.Contains("commodo consequat.", StringComparison.Ordinal) ? c : null,
            "the whole reply on the robot card");
        using var data = JsonDocument.Parse(card.CardData);
        var contents = data.RootElement.GetProperty("contents").EnumerateArray().ToList();
        Assert.Equal("Ask me", contents[0].GetProperty("text").GetString());
        Assert.Equal(reply, contents.Single(c => c.GetProperty("id").GetString() == "content").GetProperty("text").GetString());
        Assert.Equal("Assistant", data.RootElement.GetProperty("header").GetProperty("title").GetProperty("text").GetString());
    }

    [Fact]
    public async Task Text_typed_into_a_robot_card_keeps_what_other_clicks_showed_meanwhile()
    {
        var (cardBizId, path) = await gateway.SendRobotCardAsync(new
        {
            header = new { title = new { type = "text", text = "Assistant" } },
            contents = new object[]
            {
                new { type = "markdown", text = "No votes yet", id = "poll" },
                new { type = "markdown", text = "", id = "content" },
            },
        });
        var typed = gateway.TypedText.For(cardBizId);
        await PostRobotAsync(path, cardBizId, "u1", new { action = "type" });
        typed.Writer.TryWrite("Hello");
        await Eventually.TrueAsync(() => ShownBlock(cardBizId, "content") == "Hello", "the first frame");

        // Another click changes another block of the card while the text is still being typed.
        await PostRobotAsync(path, cardBizId, "u2", new { action = "vote", option = "A" });
        var poll = await Eventually.ValueAsync(() => ShownBlock(cardBizId, "poll") is { } text and not "No votes yet" ? text : null, "the vote shown");
        typed.Writer.TryWrite(", world");
        typed.Writer.Complete();

        await Eventually.TrueAsync(() => ShownBlock(cardBizId, "content") == "Hello, world", "the whole text");
        Assert.Equal(poll, ShownBlock(cardBizId, "poll"));
        await Eventually.TrueAsync(
            async () =>
            {
                using var stored = JsonDocument.Parse(await gateway.Api.GetStringAsync($"/api/cards/{cardBizId}"));
                var card = stored.RootElement.GetProperty("card").GetProperty("publicData").GetProperty("cardData").GetString()!;
                return Block(card, "content") == "Hello, world" && Block(card, "poll") == poll;
            },
            "the stored card holding both");
    }

    [Fact]
    public async Task Typing_into_a_robot_card_stops_once_DingTalk_refuses_a_frame_for_good()
    {
        var (cardBizId, path) = await gateway.SendRobotCardAsync(new { contents = new object[] { new { type = "markdown", text = "", id = "content" } } });
        var typed = gateway.TypedText.For(cardBizId);
        gateway.DingTalk.State.FailNext(HttpMethod.Put, "/v1.0/im/robots/interactiveCards", 403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", "robot removed", bodyContains: cardBizId);
        await PostRobotAsync(path, cardBizId, "u1", new { action = "type" });
        typed.Writer.TryWrite("Hello");
        await Eventually.TrueAsync(async () => (await UndeliveredAsync(cardBizId)).Contains("Dead"), "the first frame dead-lettered");

        typed.Writer.TryWrite(", world");

        var stopped = await Eventually.ValueAsync(
            () => gateway.Logs.LogEvents.FirstOrDefault(e => CardCallbackEndpointTests.EventId(e) == 6102 && e.RenderMessage().Contains(cardBizId, StringComparison.Ordinal)),
            "the typing stopped, logged");
        Assert.Equal(Serilog.Events.LogEventLevel.Warning, stopped.Level);
        Assert.Equal(["Dead"], await UndeliveredAsync(cardBizId)); // no frame queued after the refusal
        Assert.Equal(0, gateway.DingTalk.State.FindRobotCard(cardBizId)!.UpdateCount);
    }

    private async Task<List<string>> UndeliveredAsync(string cardBizId)
    {
        using var state = JsonDocument.Parse(await gateway.Api.GetStringAsync($"/api/cards/{cardBizId}"));
        return state.RootElement.GetProperty("undelivered").EnumerateArray().Select(e => e.GetProperty("status").GetString()!).ToList();
    }

    private async Task PostRobotAsync(string path, string cardBizId, string userId, object parameters)
    {
        using var request = DingTalkCallback.Post(path, System.Text.Encoding.UTF8.GetBytes(DingTalkCallback.RobotBody(cardBizId, userId, parameters)));
        using var response = await gateway.DingTalkClient.SendAsync(request);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>The text of the robot card's markdown block <paramref name="id"/> as DingTalk shows it now.</summary>
    private string? ShownBlock(string cardBizId, string id) => Block(gateway.DingTalk.State.FindRobotCard(cardBizId)!.CardData, id);

    /// <summary>The text of markdown block <paramref name="id"/> in a StandardCard's JSON.</summary>
    private static string? Block(string standardCard, string id)
    {
        using var data = JsonDocument.Parse(standardCard);
        return data.RootElement.GetProperty("contents").EnumerateArray()
            .FirstOrDefault(b => b.GetProperty("id").GetString() == id) is { ValueKind: JsonValueKind.Object } block ? block.GetProperty("text").GetString() : null;
    }
}
