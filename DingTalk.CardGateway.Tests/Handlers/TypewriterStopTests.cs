using System.Text.Json;
using Dapper;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

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

    /// <summary>
    /// With <c>Gateway:Callbacks:StopDelay</c>, the gateway still answers clicks after SIGTERM, so a text goes on being
    /// typed through the delay too: the host's <c>ApplicationStopping</c> (which the signal fires at once) no longer cuts
    /// it off, the stop proper does. Before, the text ended there as an error while the gateway still took clicks.
    /// </summary>
    [Fact]
    public async Task A_text_goes_on_being_typed_after_the_stop_is_asked_for_while_the_stops_delay_runs()
    {
        var gateway = CallbackGateway.With(new Dictionary<string, string?> { ["Gateway:Callbacks:StopDelay"] = "00:05:00" });
        await gateway.InitializeAsync();
        try
        {
            var card = await gateway.SendCardAsync("tpl.ask");
            await gateway.ClickAsync(card, "u1", new { action = "type" });
            gateway.TypedText.For(card).Writer.TryWrite("Half a reply");
            await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.StreamingFrames.Count >= 1, "the first frame");

            gateway.App.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication(); // what SIGTERM does first

            gateway.TypedText.For(card).Writer.TryWrite(", and the rest");
            gateway.TypedText.For(card).Writer.TryComplete();
            await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)!.IsStreamingFinalized("content"), "the last frame");
            var last = gateway.DingTalk.State.FindCard(card)!.StreamingFrames[^1];
            Assert.Equal(("Half a reply, and the rest", true, false), (last.Content, last.IsFinalize, last.IsError));
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
                $"SELECT payload, status FROM outbox WHERE card_id = @card AND {NoRefresh} ORDER BY id DESC LIMIT 1", new { card });
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

    /// <summary>
    /// The whole reply typed, its last frame taken, and the gateway stopping while its finished status is queued (the
    /// card's row locked meanwhile, a busy database): the stop queues the status the text ended with, finished — before,
    /// it queued failed, and the card said failed beside a whole reply DingTalk had taken as such.
    /// </summary>
    [SkippableFact]
    public Task Stopping_the_gateway_while_a_whole_replys_finished_status_is_queued_leaves_an_ai_card_finished() =>
        WaitingHandlerTests.OnPostgresAsync(async gateway =>
        {
            var card = await gateway.SendCardAsync("tpl.ai");
            await gateway.ClickAsync(card, "u1", new { action = "type", statusKey = AiCardStatus.Key });
            gateway.TypedText.For(card).Writer.TryWrite("A whole reply");
            await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.StreamingFrames.Count >= 1, "the first frame");

            var database = gateway.App.Services.GetRequiredService<GatewayDatabase>().ConnectionString;
            await using var locker = new NpgsqlConnection(database);
            await locker.OpenAsync();
            await using var locked = await locker.BeginTransactionAsync();
            await locker.ExecuteAsync("SELECT 1 FROM cards WHERE id = @card FOR UPDATE", new { card }, locked);
            gateway.TypedText.For(card).Writer.TryComplete(); // the reply ends: its last frame, then its status waits for the row
            await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)!.IsStreamingFinalized("content"), "the last frame");
            List<(int Pid, DateTime Start)> waiting = [];
            await Eventually.TrueAsync(async () => (waiting = await WaitersAsync(database)).Count > 0, "the finished status waiting for the row");

            var stopping = gateway.App.DisposeAsync().AsTask(); // cancels the status's write; the stop queues one again
            await Eventually.TrueAsync(async () => (await WaitersAsync(database)).Except(waiting).Any(), "the stop's status waiting for the row");
            await locked.RollbackAsync();
            await stopping;

            var last = gateway.DingTalk.State.FindCard(card)!.StreamingFrames[^1];
            Assert.Equal(("A whole reply", true, false), (last.Content, last.IsFinalize, last.IsError));
            await using var connection = new NpgsqlConnection(database);
            var payload = await connection.QuerySingleAsync<string>($"SELECT payload FROM outbox WHERE card_id = @card AND {NoRefresh} ORDER BY id DESC LIMIT 1", new { card });
            using var update = JsonDocument.Parse(payload);
            var values = update.RootElement.GetProperty("cardData");
            Assert.Equal((AiCardStatus.Finished, "A whole reply"), (values.GetProperty(AiCardStatus.Key).GetString(), values.GetProperty("content").GetString()));
        });

    /// <summary>
    /// The card's entries other than a refresh: a stop that cuts off an attempt of the card's send on the wire queues one
    /// behind the status (information 4121), which carries no values of its own.
    /// </summary>
    private const string NoRefresh = "payload NOT LIKE '%\"refresh\":true%'";

    /// <summary>The queries waiting for a lock on the database, each by its backend and start.</summary>
    private static async Task<List<(int Pid, DateTime Start)>> WaitersAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        return [.. await connection.QueryAsync<(int, DateTime)>(
            "SELECT pid, query_start FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")];
    }
}
