using System.Text.Json;
using DingTalk.CardGateway.Handlers.Typewriter;
using DingTalk.CardGateway.Tests.Callbacks;

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
}
