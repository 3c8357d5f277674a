using System.Text.Json;
using Dapper;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Handlers;

/// <summary>A gateway stopping while a card is being typed into does not leave the card "typing" for ever.</summary>
public sealed class TypewriterStopTests
{
    [Fact]
    public async Task Stopping_the_gateway_mid_text_sends_the_text_so_far_as_the_last_frame_marked_as_an_error()
    {
        var gateway = CallbackGateway.With(new Dictionary<string, string?>());
        await gateway.InitializeAsync();
        try
        {
            var card = await gateway.SendCardAsync("tpl.ask");
            await gateway.ClickAsync(card, "u1", new { action = "type" });
            gateway.TypedText.For(card).Writer.TryWrite("Half a reply");
            await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.StreamingFrames.Count >= 1, "the first frame");

            await gateway.App.DisposeAsync(); // stops the host: ApplicationStopping, then the hosted services

            var frames = gateway.DingTalk.State.FindCard(card)!.StreamingFrames;
            var last = frames[^1];
            Assert.True(last.IsFinalize && last.IsError, "the last frame ends the text, as an error");
            Assert.Equal("Half a reply", last.Content);
            Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 6104 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    /// <summary>On an AI card template the spinner stops only with the card's status: the stop sets it to failed, with the text so far.</summary>
    [Fact]
    public async Task Stopping_the_gateway_mid_text_leaves_an_ai_card_failed_with_the_text_so_far()
    {
        var gateway = CallbackGateway.With(new Dictionary<string, string?>());
        await gateway.InitializeAsync();
        try
        {
            var card = await gateway.SendCardAsync("tpl.ai");
            await gateway.ClickAsync(card, "u1", new { action = "type", statusKey = AiCardStatus.Key });
            gateway.TypedText.For(card).Writer.TryWrite("Half a reply");
            await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.StreamingFrames.Count >= 1, "the first frame");

            var database = gateway.App.Services.GetRequiredService<GatewayDatabase>().ConnectionString;

            await gateway.App.DisposeAsync(); // stops the host: the typewriter's drain, then the outbox

            // Queued before the stop ended: sent by the outbox if it had the time, else by the next gateway on the database.
            Assert.True(gateway.DingTalk.State.FindCard(card)!.StreamingFrames[^1].IsError);
            await using var connection = new SqliteConnection(database);
            var (payload, status) = await connection.QuerySingleAsync<(string, string)>(
                "SELECT payload, status FROM outbox WHERE card_id = @card ORDER BY id DESC LIMIT 1", new { card });
            using var update = JsonDocument.Parse(payload);
            var values = update.RootElement.GetProperty("cardData");
            Assert.Equal((AiCardStatus.Failed, "Half a reply"), (values.GetProperty(AiCardStatus.Key).GetString(), values.GetProperty("content").GetString()));
            if (status == "Sent")
            {
                Assert.Equal(AiCardStatus.Failed, gateway.DingTalk.State.FindCard(card)!.CardData[AiCardStatus.Key]);
            }
            else
            {
                Assert.Equal("Pending", status);
            }
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }
}
