using System.Text.Json;
using Dapper;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Handlers.Typewriter;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Handlers;

/// <summary>
/// The shipped typewriter on DingTalk's AI card template (<c>Gateway:Handlers:TypewriterKey = msgContent</c>,
/// <c>TypewriterStatusKey = flowStatus</c>): the template shows a spinner until its <c>flowStatus</c> says the text is
/// finished or failed, whatever the streaming frames say, so the typewriter sets it — processing, inputing, then
/// finished or failed — through card updates, in order, the last carrying the whole text.
/// </summary>
public sealed class AiCardTypewriterTests
{
    private static readonly Dictionary<string, string?> AiCard = new()
    {
        ["Gateway:Handlers:TypewriterKey"] = "msgContent",
        ["Gateway:Handlers:TypewriterStatusKey"] = AiCardStatus.Key,
    };

    [Fact]
    public Task An_ask_shows_processing_then_inputing_then_finished_with_the_whole_reply_after_the_last_frame() =>
        CallbackGateway.RunAsync(AiCard, async gateway =>
        {
            var card = await gateway.SendCardAsync("tpl.ai", new { flowStatus = AiCardStatus.Finished, msgContent = "the reply before" });

            await gateway.ClickAsync(card, "u1", new { action = "ask", question = "What is a card gateway?" });

            var statuses = await StatusesWhenSettledAsync(gateway, card);
            var reply = EchoTextSource.ReplyTo("What is a card gateway?");
            Assert.Equal(AiCardStatus.Finished, statuses[^1].Status);
            Assert.Equal(reply, statuses[^1].Text);
            AssertInOrder(statuses.Select(s => s.Status), AiCardStatus.Processing, AiCardStatus.Inputing, AiCardStatus.Finished);
            Assert.Contains(AiCardStatus.Inputing, statuses.Select(s => s.Status)); // the spinner gives way to the text as it comes

            var shown = gateway.DingTalk.State.FindCard(card)!;
            Assert.Equal(AiCardStatus.Finished, shown.CardData[AiCardStatus.Key]);
            Assert.Equal(reply, shown.CardData["msgContent"]);
            Assert.All(shown.StreamingFrames, f => Assert.Equal("msgContent", f.Key));
            Assert.False(shown.StreamingFrames[^1].IsError);
            Assert.True(shown.StreamingFrames[^1].IsFinalize);

            // The finished status leaves after the last frame was taken, and none before the ask's first.
            var requests = gateway.DingTalk.State.Requests.Where(r => r.Body.Contains(card, StringComparison.Ordinal)).ToList();
            var lastFrame = requests.FindLastIndex(r => r.Path == "/v1.0/card/streaming");
            var finished = requests.FindLastIndex(r => r.Path == "/v1.0/card/instances" && r.Method == "PUT");
            Assert.True(finished > lastFrame, "the finished status was sent before the last frame");
            Assert.Equal(reply, (await StoredAsync(gateway, card)).GetProperty("msgContent").GetString());
        });

    [Fact]
    public Task A_text_source_that_times_out_leaves_the_card_failed_with_the_text_so_far() =>
        CallbackGateway.RunAsync(
            new Dictionary<string, string?>(AiCard)
            {
                ["Gateway:Handlers:EchoWordDelay"] = "00:00:00.600",
                ["Gateway:Handlers:StreamTimeout"] = "00:00:01",
            },
            async gateway =>
            {
                var card = await gateway.SendCardAsync("tpl.ai", new { msgContent = "" });

                await gateway.ClickAsync(card, "u1", new { action = "ask", question = "a question whose reply takes too long" });

                var statuses = await StatusesWhenSettledAsync(gateway, card);
                Assert.Equal(AiCardStatus.Failed, statuses[^1].Status);
                AssertInOrder(statuses.Select(s => s.Status), AiCardStatus.Processing, AiCardStatus.Inputing, AiCardStatus.Failed);
                var shown = gateway.DingTalk.State.FindCard(card)!;
                Assert.True(shown.StreamingFrames[^1].IsError);
                Assert.Equal(shown.StreamingFrames[^1].Content, statuses[^1].Text);
                Assert.NotEqual(EchoTextSource.ReplyTo("a question whose reply takes too long"), statuses[^1].Text);
            });

    /// <summary>
    /// A streaming frame refused for good (the app lacks <c>Card.Streaming.Write</c>) ends the typing: the card's status
    /// still goes to failed through the card update API, which that permission does not cover, or the spinner turned
    /// for ever.
    /// </summary>
    [Fact]
    public Task A_frame_DingTalk_refuses_for_good_leaves_the_card_failed_not_spinning() =>
        CallbackGateway.RunAsync(AiCard, async gateway =>
        {
            var card = await gateway.SendCardAsync("tpl.ai", new { msgContent = "" });
            gateway.DingTalk.State.DenyPermissionNext(HttpMethod.Put, "/v1.0/card/streaming", ["Card.Streaming.Write"], bodyContains: card);

            await gateway.ClickAsync(card, "u1", new { action = "ask", question = "hello" });

            var statuses = await StatusesWhenSettledAsync(gateway, card);
            Assert.Equal(AiCardStatus.Failed, statuses[^1].Status);
            Assert.StartsWith(statuses[^1].Text!, EchoTextSource.ReplyTo("hello"), StringComparison.Ordinal); // what was typed when the frame was refused
            Assert.Equal(AiCardStatus.Failed, gateway.DingTalk.State.FindCard(card)!.CardData[AiCardStatus.Key]);
            Assert.Empty(gateway.DingTalk.State.FindCard(card)!.StreamingFrames);
        });

    /// <summary>
    /// The statuses on the way (processing, inputing) go through the database; the frames do not. One the database refuses
    /// (a hiccup) is skipped and logged, and the reply is typed to its end, finished: before, it stopped the typing without
    /// a last frame and left the card failed (or spinning, had the failed status been refused too).
    /// </summary>
    [Fact]
    public Task A_status_on_the_way_the_database_refuses_is_skipped_and_the_reply_still_ends_finished() =>
        CallbackGateway.RunAsync(AiCard, async gateway =>
        {
            var card = await gateway.SendCardAsync("tpl.ai", new { msgContent = "" });
            await using (var connection = await gateway.App.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default))
            {
                await connection.ExecuteAsync(
                    $"""
                    CREATE TRIGGER refuse_on_the_way BEFORE INSERT ON outbox
                    WHEN NEW.card_id = '{card}' AND json_extract(NEW.payload, '$.cardData.{AiCardStatus.Key}') IN ('{AiCardStatus.Processing}', '{AiCardStatus.Inputing}')
                    BEGIN SELECT RAISE(ABORT, 'the disk hiccupped'); END;
                    """);
            }

            await gateway.ClickAsync(card, "u1", new { action = "ask", question = "still typed" });

            var statuses = await StatusesWhenSettledAsync(gateway, card);
            var reply = EchoTextSource.ReplyTo("still typed");
            Assert.Equal([(AiCardStatus.Finished, reply)], statuses);
            var shown = gateway.DingTalk.State.FindCard(card)!;
            Assert.Equal(reply, shown.StreamingFrames[^1].Content);
            Assert.True(shown.StreamingFrames[^1].IsFinalize);
            Assert.False(shown.StreamingFrames[^1].IsError);
            var skipped = gateway.Logs.LogEvents.Where(e => CardCallbackEndpointTests.EventId(e) == 6125 && e.RenderMessage().Contains(card, StringComparison.Ordinal)).ToList();
            Assert.Equal(2, skipped.Count); // processing, then inputing: each tried once
        });

    /// <summary>
    /// The whole reply typed and its last frame taken, the database refuses its finished status once (a hiccup): the
    /// status is queued again as finished. Before, the refusal was taken for a refused frame and failed was queued instead,
    /// so the card said failed beside a whole reply.
    /// </summary>
    [SkippableFact]
    public Task A_finished_status_the_database_refuses_once_is_queued_again_as_finished_not_failed() =>
        WaitingHandlerTests.OnPostgresAsync(
            async gateway =>
            {
                var card = await gateway.SendCardAsync("tpl.ai", new { msgContent = "" });
                await using (var connection = await gateway.App.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default))
                {
                    // A sequence is not rolled back with the refused transaction: only the first finished status is refused.
                    await connection.ExecuteAsync(
                        $"""
                        CREATE SEQUENCE finished_refusals;
                        CREATE FUNCTION refuse_first_finished() RETURNS trigger AS $$
                        BEGIN IF nextval('finished_refusals') = 1 THEN RAISE EXCEPTION 'the disk hiccupped'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
                        CREATE TRIGGER refuse_first_finished BEFORE INSERT ON outbox FOR EACH ROW
                        WHEN (NEW.card_id = '{card}' AND NEW.payload::jsonb -> 'cardData' ->> '{AiCardStatus.Key}' = '{AiCardStatus.Finished}')
                        EXECUTE FUNCTION refuse_first_finished();
                        """);
                }

                await gateway.ClickAsync(card, "u1", new { action = "ask", question = "finished after all" });

                var statuses = await StatusesWhenSettledAsync(gateway, card);
                Assert.Equal((AiCardStatus.Finished, EchoTextSource.ReplyTo("finished after all")), statuses[^1]);
                Assert.DoesNotContain(AiCardStatus.Failed, statuses.Select(s => s.Status));
                Assert.False(gateway.DingTalk.State.FindCard(card)!.StreamingFrames[^1].IsError);
            },
            AiCard);

    [Fact]
    public Task Without_a_status_key_the_typewriter_sends_no_card_update() =>
        CallbackGateway.RunAsync(new Dictionary<string, string?> { ["Gateway:Handlers:TypewriterKey"] = "msgContent" }, async gateway =>
        {
            var card = await gateway.SendCardAsync("tpl.ai", new { msgContent = "" });

            await gateway.ClickAsync(card, "u1", new { action = "ask", question = "plain" });

            var shown = await Eventually.ValueAsync(
                () => gateway.DingTalk.State.FindCard(card) is { } c && c.IsStreamingFinalized("msgContent") ? c : null, "the final frame");
            Assert.Equal(EchoTextSource.ReplyTo("plain"), shown.StreamingFrames[^1].Content);
            Assert.Empty(UpdatesOf(gateway, card));
            Assert.Equal(EchoTextSource.ReplyTo("plain"), (await StoredAsync(gateway, card)).GetProperty("msgContent").GetString());
        });

    [Theory]
    [InlineData("Gateway:Handlers:TypewriterKey", "", "is required")]
    [InlineData("Gateway:Handlers:TypewriterKey", "msg content", "must match the regular expression")]
    [InlineData("Gateway:Handlers:TypewriterStatusKey", "9flowStatus", "must match the regular expression")]
    [InlineData("Gateway:Handlers:TypewriterStatusKey", "content", "must differ from TypewriterKey")] // the text's own: the status would overwrite it
    public void A_key_that_is_not_a_card_variable_or_is_the_texts_own_is_named_at_startup(string key, string value, string says)
    {
        using var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build())
            .AddCardHandlers()
            .BuildServiceProvider();

        var problem = Assert.Single(ConfigurationProblems.Find(services));

        Assert.StartsWith($"{key} ({key.Replace(":", "__", StringComparison.Ordinal)}) {says}", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void The_defaults_and_the_ai_card_template_keys_are_valid()
    {
        foreach (var settings in new[] { new Dictionary<string, string?>(), AiCard })
        {
            using var services = new ServiceCollection()
                .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
                .AddCardHandlers()
                .BuildServiceProvider();
            Assert.Empty(ConfigurationProblems.Find(services));
        }
    }

    /// <summary>The <c>flowStatus</c> (and text) of each update of <paramref name="card"/> DingTalk took, once the typing has ended and its last status is out.</summary>
    private static async Task<IReadOnlyList<(string Status, string? Text)>> StatusesWhenSettledAsync(CallbackGateway gateway, string card)
    {
        await Eventually.TrueAsync(
            () => UpdatesOf(gateway, card).LastOrDefault() is { Status: AiCardStatus.Finished or AiCardStatus.Failed },
            "the card's status finished or failed");
        return UpdatesOf(gateway, card);
    }

    private static List<(string Status, string? Text)> UpdatesOf(CallbackGateway gateway, string card) =>
        [.. gateway.DingTalk.State.RequestsTo("/v1.0/card/instances")
            .Where(r => r.Method == "PUT" && r.Status == 200 && r.Body.Contains(card, StringComparison.Ordinal))
            .Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("cardData").GetProperty("cardParamMap"))
            .Where(map => map.TryGetProperty(AiCardStatus.Key, out _))
            .Select(map => (map.GetProperty(AiCardStatus.Key).GetString()!, map.TryGetProperty("msgContent", out var text) ? text.GetString() : null))];

    /// <summary>Each value of <paramref name="seen"/> is one of <paramref name="order"/>, never one before a value seen earlier.</summary>
    private static void AssertInOrder(IEnumerable<string> seen, params string[] order)
    {
        var at = 0;
        foreach (var value in seen)
        {
            var index = Array.IndexOf(order, value);
            Assert.True(index >= at, $"status {value} came after {order[at]}: {string.Join(", ", seen)}");
            at = index;
        }
    }

    private static async Task<JsonElement> StoredAsync(CallbackGateway gateway, string card)
    {
        JsonElement data = default;
        await Eventually.TrueAsync(
            async () => (data = JsonDocument.Parse(await gateway.Api.GetStringAsync($"/api/cards/{card}")).RootElement.GetProperty("card").GetProperty("publicData"))
                .TryGetProperty("msgContent", out var text) && text.GetString() is { Length: > 0 },
            "the stored card to hold the reply");
        return data;
    }
}
