using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Handlers.Typewriter;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.Sandbox;

namespace DingTalk.CardGateway.Tests.Handlers;

/// <summary>
/// Two gateway processes on one PostgreSQL, one card: two asks landing on different replicas are typed one after the
/// other, at DingTalk's pace, as if one gateway had both.
/// </summary>
public sealed class TypewriterReplicaTests : IAsyncLifetime
{
    /// <summary>DingTalk refuses streaming frames to one card closer than about this.</summary>
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(500);

    private FakeDingTalk _dingTalk = null!;

    public async Task InitializeAsync() => _dingTalk = await FakeDingTalk.StartAsync();

    public async Task DisposeAsync() => await _dingTalk.DisposeAsync();

    [SkippableFact]
    public async Task Two_asks_on_one_card_on_two_replicas_are_typed_one_after_the_other_at_DingTalks_pace()
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            var settings = GatewayFactory.PostgresSettings(connectionString);
            settings["Gateway:Handlers:EchoWordDelay"] = "00:00:00.040"; // each reply ~2 s: several frames each
            await using var first = await GatewayProcess.StartAsync(_dingTalk, settings);
            await using var second = await GatewayProcess.StartAsync(_dingTalk, settings);
            const string card = "replica-assistant";
            using (var api = first.CreateAdminClient())
            {
                var sent = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.assistant", outTrackId = card, openConversationId = "cidReplicas==", cardData = new { content = "" } });
                await HttpAssert.JsonAsync(sent, HttpStatusCode.Created);
            }

            await Task.WhenAll(AskAsync(first, card, "first"), AskAsync(second, card, "second"));

            var frames = await BothTypedAsync(card, first, second);
            var replies = new[] { EchoTextSource.ReplyTo("first"), EchoTextSource.ReplyTo("second") };
            var firstEnds = frames.FindIndex(f => f.IsFinalize);
            var typedFirst = frames[firstEnds].Content;
            var typedSecond = Assert.Single(replies, reply => reply != typedFirst);
            Assert.Contains(typedFirst, replies);

            // Each frame carries the whole text so far: every frame up to the first text's last is a beginning of that
            // text, and every frame after it a beginning of the other — no frame of one between frames of the other.
            Assert.All(frames.Take(firstEnds + 1), f => Assert.StartsWith(f.Content, typedFirst, StringComparison.Ordinal));
            Assert.All(frames.Skip(firstEnds + 1), f => Assert.StartsWith(f.Content, typedSecond, StringComparison.Ordinal));
            Assert.Equal((typedSecond, true, false), (frames[^1].Content, frames[^1].IsFinalize, frames[^1].IsError));
            Assert.Equal(2, frames.Count(f => f.IsFinalize));
            Assert.True(firstEnds > 0 && frames.Count - firstEnds > 2, $"each text in several frames: {frames.Count} frames, the first text's last at {firstEnds}");

            // At DingTalk's pace across both replicas, by the times DingTalk received the frames.
            var calls = _dingTalk.State.RequestsTo("/v1.0/card/streaming");
            Assert.All(calls, call => Assert.Equal(200, call.Status));
            Assert.Equal(frames.Count, calls.Count);
            Assert.All(
                calls.Zip(calls.Skip(1)),
                pair => Assert.True(pair.Second.At - pair.First.At >= Pace, $"two frames {(pair.Second.At - pair.First.At).TotalMilliseconds} ms apart"));
        });
    }

    private static async Task AskAsync(GatewayProcess gateway, string card, string question)
    {
        using var client = gateway.CreateClient();
        using var request = DingTalkCallback.Signed(DingTalkCallback.Body(card, "u-" + question, new { action = "ask", question }), GatewayFactory.ApiSecret);
        var answer = await HttpAssert.JsonAsync(await client.SendAsync(request), HttpStatusCode.OK);
        Assert.Equal("{}", answer.GetRawText());
    }

    /// <summary>The card's streaming frames once two texts have ended; on failure says what the card and the gateways show.</summary>
    private async Task<List<StreamingFrame>> BothTypedAsync(string card, params GatewayProcess[] gateways)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (_dingTalk.State.FindCard(card)?.StreamingFrames.Count(f => f.IsFinalize) is not >= 2)
        {
            if (DateTime.UtcNow > deadline)
            {
                var frames = _dingTalk.State.FindCard(card)?.StreamingFrames.Select(f => JsonSerializer.Serialize(f)) ?? [];
                var logs = string.Join("\n---\n", gateways.Select(g => string.Join('\n', g.Output.Split('\n').TakeLast(25))));
                Assert.Fail($"Two texts did not end. Frames:\n{string.Join('\n', frames)}\nGateway logs:\n{logs}");
            }

            await Task.Delay(50);
        }

        return [.. _dingTalk.State.FindCard(card)!.StreamingFrames];
    }
}
