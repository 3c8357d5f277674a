using System.Text.Json;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// A gateway stopping (a deploy, a scale-in) while it handles a click: DingTalk will not deliver an answered click
/// again, so the stop waits for its handler — up to <c>Gateway:Callbacks:StopGrace</c> — instead of cancelling it.
/// Each test stops its own gateway, then reads what it stored through a second gateway on the same database.
/// </summary>
public sealed class HandlerStopTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_click_whose_handler_overran_is_kept_and_sent_when_the_gateway_stops_before_the_handler_ends()
    {
        await using var stopping = new StoppingGateway(new Dictionary<string, string?> { ["Gateway:Callbacks:HandlerBudget"] = "00:00:00.100" });
        var gateway = await stopping.StartAsync();
        var card = await gateway.SendCardAsync("tpl.count");
        var gate = Guid.NewGuid().ToString("N");
        Assert.Equal("{}", (await gateway.ClickAsync(card, "u1", new { action = "count", gate }).WaitAsync(Patience)).GetRawText()); // overran: DingTalk has its answer

        // The handler's wait ends only once the stop has begun.
        var handlerGate = gateway.Gate;
        gateway.App.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() => handlerGate.Open(gate));
        await gateway.App.DisposeAsync().AsTask().WaitAsync(Patience);

        await using var after = stopping.Restart();
        var stored = await StoredAsync(after, card);
        Assert.Equal("Overran", stored.GetProperty("callbacks")[0].GetProperty("outcome").GetString());
        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("count") == "1", "the click's update for everyone");
        Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) is 3102 or 3107);
        Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3109); // the stop said what it waited for
    }

    [Fact]
    public async Task A_click_answered_while_it_waited_for_a_callback_slot_is_handled_and_kept_when_the_gateway_stops()
    {
        await using var stopping = new StoppingGateway(new Dictionary<string, string?>
        {
            ["Gateway:Callbacks:HandlerBudget"] = "00:00:00.100",
            ["Gateway:Callbacks:MaxInFlight"] = "1",
        });
        var gateway = await stopping.StartAsync();
        var card = await gateway.SendCardAsync("tpl.count");
        var gate = Guid.NewGuid().ToString("N");
        Assert.Equal("{}", (await gateway.ClickAsync(card, "u1", new { action = "count", gate }).WaitAsync(Patience)).GetRawText()); // overran, in the only slot
        Assert.Equal("{}", (await gateway.ClickAsync(card, "u2", new { action = "count" }).WaitAsync(Patience)).GetRawText()); // answered as it waits for it

        // The slot frees only once the stop has begun: the waiting click is handled then, inside the stop's grace.
        var handlerGate = gateway.Gate;
        gateway.App.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() => handlerGate.Open(gate));
        await gateway.App.DisposeAsync().AsTask().WaitAsync(Patience);

        await using var after = stopping.Restart();
        var outcomes = (await StoredAsync(after, card)).GetProperty("callbacks").EnumerateArray().Select(c => c.GetProperty("outcome").GetString());
        Assert.Equal(["Overran", "Overran"], outcomes);
        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("count") == "2", "both clicks' update for everyone");
        Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3128);
        Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) is 3102 or 3107 or 3112);
    }

    [Fact]
    public async Task A_click_whose_handler_overran_into_a_stop_is_answered_from_its_record_when_delivered_again_after_the_restart_and_updates_everyone_once()
    {
        await using var stopping = new StoppingGateway(new Dictionary<string, string?> { ["Gateway:Callbacks:HandlerBudget"] = "00:00:00.100" });
        var gateway = await stopping.StartAsync();
        var card = await gateway.SendCardAsync("tpl.count");
        var gate = Guid.NewGuid().ToString("N");
        var body = DingTalkCallback.Body(card, "u1", new { action = "count", gate });
        var signedAt = DateTimeOffset.UtcNow;
        Assert.Equal("{}", await DeliverAsync(gateway.DingTalkClient, body, signedAt)); // overran
        var handlerGate = gateway.Gate;
        gateway.App.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() => handlerGate.Open(gate));
        await gateway.App.DisposeAsync().AsTask().WaitAsync(Patience);

        // DingTalk delivers the click again, now to the restarted gateway (the {} lost on its way, say): answered from
        // the record the stop waited for, not handled a second time (this gateway has no handler for it, which a second
        // handling would record as Unhandled).
        await using var after = stopping.Restart();
        using var client = after.CreateClient();
        Assert.Equal("{}", await DeliverAsync(client, body, signedAt));

        await Eventually.TrueAsync(async () => (await StoredAsync(after, card)).GetProperty("undelivered").GetArrayLength() == 0 && gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("count") == "1", "the click's update for everyone, delivered");
        var stored = await StoredAsync(after, card);
        Assert.Equal("Overran", Assert.Single(stored.GetProperty("callbacks").EnumerateArray()).GetProperty("outcome").GetString());
        Assert.Single(gateway.DingTalk.State.RequestsTo("/v1.0/card/instances"), r => r.Method == "PUT" && r.Status == 200 && r.Body.Contains(card, StringComparison.Ordinal));
        Assert.Equal(1, handlerGate.Arrivals(gate));
    }

    [Fact]
    public async Task A_handler_still_running_when_the_grace_ends_is_cancelled_and_its_click_recorded_as_failed()
    {
        await using var stopping = new StoppingGateway(new Dictionary<string, string?>
        {
            ["Gateway:Callbacks:HandlerBudget"] = "00:00:00.100",
            ["Gateway:Callbacks:StopGrace"] = "00:00:00.200",
        });
        var gateway = await stopping.StartAsync();
        var card = await gateway.SendCardAsync("tpl.count");
        var gate = Guid.NewGuid().ToString("N");
        Assert.Equal("{}", (await gateway.ClickAsync(card, "u1", new { action = "count", gate }).WaitAsync(Patience)).GetRawText());

        await gateway.App.DisposeAsync().AsTask().WaitAsync(Patience); // the gate never opens

        Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3107 && e.RenderMessage().Contains("StopGrace", StringComparison.Ordinal));
        Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3108);
        await using var after = stopping.Restart();
        var stored = await StoredAsync(after, card);
        Assert.Equal("HandlerFailed", stored.GetProperty("callbacks")[0].GetProperty("outcome").GetString());
        Assert.False(stored.GetProperty("card").GetProperty("publicData").TryGetProperty("count", out _));
    }

    /// <summary>
    /// On a clock the test moves: the budget must run out after u2's handler has ended and while its commit waits for the
    /// writer, and in real time that needed both clicks' paths (u2's handler, then all of u1's click) to fit in the
    /// budget — on a loaded machine they did not, and u2 was answered as its handler overran (3103) instead.
    /// </summary>
    [Fact]
    public async Task A_click_answered_at_its_budget_while_its_commit_waits_for_storage_is_committed_before_the_gateway_stops()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var stopping = new StoppingGateway(
            new Dictionary<string, string?> { ["Gateway:Callbacks:HandlerBudget"] = "00:00:03" },
            services => services.AddSingleton<TimeProvider>(clock));
        var gateway = await stopping.StartAsync();
        var batcher = gateway.App.Services.GetRequiredService<SqliteWriteBatcher>();
        var card = await gateway.SendCardAsync("tpl.script");
        var holder = await gateway.SendCardAsync("tpl.script");

        // u2's handler counts, then waits at a gate: its unit leaves SQLite's writer meanwhile, and u1 takes it.
        var waiting = Guid.NewGuid().ToString("N");
        var second = gateway.ClickAsync(card, "u2", new { action = "script", @do = $"count,wait:{waiting}" });
        await gateway.Gate.Entered(waiting).WaitAsync(Patience);
        var hold = Guid.NewGuid().ToString("N");
        _ = gateway.ClickAsync(holder, "u1", new { action = "script", @do = $"card,wait:{hold}" });
        await gateway.Gate.Entered(hold).WaitAsync(Patience);
        gateway.Gate.Open(waiting);
        await Eventually.TrueAsync(() => batcher.Waiting == 1, "u2's handler ended, its commit waiting for the writer u1 holds");
        Assert.False(second.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(3)); // u2's budget runs out now
        Assert.Equal("{}", (await second.WaitAsync(Patience)).GetRawText()); // answered before its commit (3113)

        // u1 lets the writer go only once the stop has begun.
        var handlerGate = gateway.Gate;
        gateway.App.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() => handlerGate.Open(hold));
        await gateway.App.DisposeAsync().AsTask().WaitAsync(Patience);

        await using var after = stopping.Restart();
        var stored = await StoredAsync(after, card);
        Assert.Equal("Overran", stored.GetProperty("callbacks")[0].GetProperty("outcome").GetString());
        Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3113);
        Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) is 3107 or 3108 or 3112);
    }

    [Theory]
    [InlineData("00:00:10", 30)] // the default grace: the host's own 30 s covers the default grace, the drains and the rest
    [InlineData("00:02:00", 137)] // a longer grace lengthens the host's stop timeout instead of being cut off by it
    public async Task The_hosts_stop_timeout_leaves_room_for_the_grace(string grace, int seconds)
    {
        await using var dingTalk = await FakeDingTalk.StartAsync();
        await using var gateway = new GatewayFactory(dingTalk, new Dictionary<string, string?> { ["Gateway:Callbacks:StopGrace"] = grace });

        Assert.Equal(TimeSpan.FromSeconds(seconds), gateway.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<HostOptions>>().Value.ShutdownTimeout);
    }

    private static async Task<string> DeliverAsync(HttpClient client, string body, DateTimeOffset signedAt)
    {
        using var request = DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt);
        using var response = await client.SendAsync(request).WaitAsync(Patience);
        return (await HttpAssert.JsonAsync(response, System.Net.HttpStatusCode.OK)).GetRawText();
    }

    private static async Task<JsonElement> StoredAsync(GatewayFactory gateway, string card)
    {
        using var api = gateway.CreateAdminClient();
        using var stored = JsonDocument.Parse(await api.GetStringAsync($"/api/cards/{card}"));
        return stored.RootElement.Clone();
    }

    /// <summary>A <see cref="CallbackGateway"/> on a database file of the test's own, which a second gateway can open after the first stopped.</summary>
    private sealed class StoppingGateway(Dictionary<string, string?> settings, Action<IServiceCollection>? services = null) : IAsyncDisposable
    {
        private readonly string _database = Path.Combine(Path.GetTempPath(), $"cg-stop-{Guid.NewGuid():N}.db");
        private CallbackGateway? _gateway;

        private Dictionary<string, string?> Settings => new(settings) { ["Gateway:Storage:ConnectionString"] = $"Data Source={_database}" };

        public async Task<CallbackGateway> StartAsync()
        {
            _gateway = CallbackGateway.With(Settings, services);
            await _gateway.InitializeAsync();
            return _gateway;
        }

        /// <summary>A plain gateway on the same database and fake DingTalk: its outbox sends what the first one left.</summary>
        public GatewayFactory Restart()
        {
            var restarted = new GatewayFactory(_gateway!.DingTalk, Settings);
            using var client = restarted.CreateClient(); // starts the host
            return restarted;
        }

        public async ValueTask DisposeAsync()
        {
            if (_gateway is not null)
            {
                await _gateway.DisposeAsync();
            }

            SqliteFiles.Delete(_database);
        }
    }
}
