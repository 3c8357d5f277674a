using System.Diagnostics.Metrics;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Stream;
using DingTalk.Sandbox.Stream;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>Tests that need a gateway of their own: stopping it, and a small bound on frames in flight.</summary>
public sealed class StreamOwnGatewayTests
{
    [Fact]
    public async Task Stopping_answers_the_frames_in_flight_then_closes_the_socket_cleanly()
    {
        var gateway = await StreamGateway.StartAsync();
        try
        {
            var connection = await gateway.OpenConnectionAsync();
            var outTrackId = await gateway.SendCardAsync("tpl.count");
            var slow = await gateway.Stream.PushCardCallbackAsync(outTrackId, "u1", new { action = CountingHandler.Action, delayMs = "500" });
            await Callbacks.Eventually.TrueAsync(() => gateway.Invocations.For(outTrackId).Count == 1, "the handler is running");

            await gateway.App.DisposeAsync();

            Assert.True(slow.Answered.IsCompleted, "answered before the socket closed");
            Assert.Equal(200, (await slow.Answered).Code);
            Assert.Contains("\"counted\"", (await slow.Answered).Data, StringComparison.Ordinal); // its handler finished: a stop does not cancel it
            await connection.Closed.WaitAsync(StreamGateway.Patience);
            Assert.StartsWith("the client closed it (NormalClosure", connection.CloseReason, StringComparison.Ordinal);
            Assert.Empty(gateway.Stream.ProtocolErrors);
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    /// <summary>
    /// A socket that goes with many frames in flight loses every one of their answers: one warning said them all, one a
    /// frame (seventeen after an 8 s freeze, FrozenGatewayTests). Now the first is said, the rest at Debug, and the count once.
    /// </summary>
    [Fact]
    public async Task Answers_lost_with_a_dropped_socket_are_said_once_and_counted_not_warned_one_by_one()
    {
        var gateway = await StreamGateway.StartAsync(new Dictionary<string, string?> { ["Serilog:MinimumLevel:Override:DingTalk.CardGateway.Stream"] = "Debug" });
        try
        {
            var connection = await gateway.OpenConnectionAsync();
            var outTrackId = await gateway.SendCardAsync("tpl.count");
            var frames = new List<SandboxStreamMessage>();
            for (var i = 0; i < 4; i++)
            {
                frames.Add(await gateway.Stream.PushCardCallbackAsync(outTrackId, $"u{i}", new { action = CountingHandler.Action, delayMs = "800" }));
            }

            await Callbacks.Eventually.TrueAsync(() => gateway.Invocations.For(outTrackId).Count == 4, "the four handlers are running");
            connection.Drop();

            await Callbacks.Eventually.TrueAsync(() => gateway.Logs.LogEvents.Any(e => Callbacks.CardCallbackEndpointTests.EventId(e) == 5018), "the lost answers counted as the connection closed");
            var events = gateway.Logs.LogEvents.ToList();
            var first = Assert.Single(events, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 5013);
            Assert.Equal(Serilog.Events.LogEventLevel.Warning, first.Level);
            var others = events.Where(e => Callbacks.CardCallbackEndpointTests.EventId(e) == 5019).ToList();
            Assert.Equal(3, others.Count);
            Assert.All(others, e => Assert.Equal(Serilog.Events.LogEventLevel.Debug, e.Level));
            Assert.Equal(frames.Select(f => f.MessageId).Order(), events.Where(e => Callbacks.CardCallbackEndpointTests.EventId(e) is 5013 or 5019).Select(e => ((Serilog.Events.ScalarValue)e.Properties["MessageId"]).Value as string).Order());
            Assert.Contains("closed with 4 answers not sent", Assert.Single(events, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 5018).RenderMessage(), StringComparison.Ordinal);

            // DingTalk pushes them again on the new connection: answered from their records, each handled once.
            await Task.WhenAll(frames.Select(f => f.Answered)).WaitAsync(StreamGateway.Patience);
            Assert.Equal(4, gateway.Invocations.For(outTrackId).Count);
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_frame_waiting_for_a_slot_when_the_gateway_stops_is_left_for_DingTalk_not_taken_after_the_drain()
    {
        // The drain waits for the frames in flight as closing begins: a frame that got its slot only after that would be
        // handled while the close handshake runs, and its answer could not leave. Left unhandled, DingTalk pushes it again.
        var gateway = await StreamGateway.StartAsync(new Dictionary<string, string?> { ["DingTalk:Stream:MaxFramesInFlight"] = "1" });
        try
        {
            await gateway.OpenConnectionAsync();
            var outTrackId = await gateway.SendCardAsync("tpl.count");
            var slow = await gateway.Stream.PushCardCallbackAsync(outTrackId, "slow", new { action = CountingHandler.Action, delayMs = "1000" });
            await Callbacks.Eventually.TrueAsync(() => gateway.Invocations.For(outTrackId).Count == 1, "the slow handler holds the only slot");
            var waiting = await gateway.Stream.PushCardCallbackAsync(outTrackId, "next", new { action = CountingHandler.Action });
            await Callbacks.Eventually.TrueAsync(() => waiting.Deliveries > 0, "a second frame waits for the slot");
            await Task.Delay(TimeSpan.FromMilliseconds(300)); // read by the gateway, which now waits for the slot
            var invocations = gateway.Invocations; // the gateway's services go with it

            await gateway.App.DisposeAsync();

            Assert.Equal(200, (await slow.Answered.WaitAsync(StreamGateway.Patience)).Code); // the frame in flight was answered
            Assert.Contains(gateway.Logs.LogEvents, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 5015
                && e.RenderMessage().Contains(waiting.MessageId, StringComparison.Ordinal));
            Assert.DoesNotContain(gateway.Logs.LogEvents, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 5013 // its answer was not lost
                && e.RenderMessage().Contains(waiting.MessageId, StringComparison.Ordinal));
            Assert.Single(invocations.For(outTrackId)); // the second click did not run on the closing connection
            Assert.False(waiting.IsSettled);
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_dead_connection_is_replaced_while_every_frame_slot_and_waiting_place_is_busy()
    {
        // The only slot is held for the whole handler budget and as many frames wait for it as may: the socket is not read
        // meanwhile, so only the idle watchdog can tell it died.
        var gateway = await StreamGateway.StartAsync(new Dictionary<string, string?>
        {
            ["DingTalk:Stream:MaxFramesInFlight"] = "1",
            ["Gateway:Callbacks:HandlerBudget"] = "00:00:10",
        });
        try
        {
            var before = await gateway.OpenConnectionAsync();
            var outTrackId = await gateway.SendCardAsync("tpl.count");
            await gateway.Stream.PushCardCallbackAsync(outTrackId, "slow", new { action = CountingHandler.Action, delayMs = "30000" });
            await Callbacks.Eventually.TrueAsync(() => gateway.Invocations.For(outTrackId).Count == 1, "the slow handler holds the only slot");
            SandboxStreamMessage? waiting = null;
            for (var i = 0; i <= StreamSession.WaitingPerSlot; i++)
            {
                waiting = await gateway.Stream.PushCardCallbackAsync(outTrackId, $"next{i}", new { action = CountingHandler.Action });
            }

            await Callbacks.Eventually.TrueAsync(() => waiting!.Deliveries > 0, "the frames waiting for the slot, and one more");
            await Task.Delay(TimeSpan.FromMilliseconds(500)); // read by the gateway, which now waits for a waiting place

            before.Drop();
            // The idle timeout and a backoff, well before the slot frees (10 s after the slow click arrived).
            using var watchdog = new CancellationTokenSource(StreamGateway.IdleTimeout + TimeSpan.FromSeconds(3));
            var after = await gateway.Stream.WaitForConnectionAsync(c => c.IsOpen && c.Id > before.Id, watchdog.Token);

            Assert.Single(gateway.Invocations.For(outTrackId)); // no other click has run: the slot is still held
            Assert.Contains(gateway.Logs.LogEvents, e => e.RenderMessage().Contains("no frame from DingTalk", StringComparison.Ordinal));
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_connection_whose_far_side_hangs_is_dropped_by_the_keepalive_and_the_log_says_no_pong_came()
    {
        // Only the WebSocket keep-alive can tell: the idle timer is far longer than the test.
        var gateway = await StreamGateway.StartAsync(new Dictionary<string, string?>
        {
            ["DingTalk:Stream:KeepAliveInterval"] = "00:00:01",
            ["DingTalk:Stream:IdleTimeout"] = "00:10:00",
        });
        await using var hung = await StubStreamServer.HungAsync();
        try
        {
            var before = await gateway.OpenConnectionAsync();
            gateway.Stream.EndpointOverride = hung.Endpoint;
            before.Drop();
            await Callbacks.Eventually.TrueAsync(() => hung.Accepted > 0, "the gateway connected to the hung server");

            await Callbacks.Eventually.TrueAsync(
                () => gateway.Logs.LogEvents.Any(e => Callbacks.CardCallbackEndpointTests.EventId(e) == 5004 && e.RenderMessage().Contains("Pong", StringComparison.Ordinal)),
                "the hung connection reported lost, for want of a pong");
            gateway.Stream.EndpointOverride = null;
            await gateway.OpenConnectionAsync(before);
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_far_side_that_stops_reading_the_answers_is_dropped_once_an_answer_cannot_be_written_logged_once_and_counted()
    {
        // Its frames keep coming, so neither the idle timer nor the keep-alive (which pings only when nothing arrives) can tell.
        var gateway = await StreamGateway.StartAsync(new Dictionary<string, string?>
        {
            ["DingTalk:Stream:IdleTimeout"] = "00:10:00",
            ["DingTalk:Stream:SendTimeout"] = "00:00:02",
        });
        using var events = new MetricCollector<long>(
            gateway.App.Services.GetRequiredService<IMeterFactory>(), GatewayMetrics.MeterName, "cardgateway.stream.connection.events");
        await using var deaf = await StubStreamServer.DeafAsync(pingBytes: 256 * 1024);
        try
        {
            var before = await gateway.OpenConnectionAsync();
            gateway.Stream.EndpointOverride = deaf.Endpoint;
            before.Drop();
            await Callbacks.Eventually.TrueAsync(() => deaf.Accepted > 0, "the gateway connected to the deaf server");

            await Callbacks.Eventually.TrueAsync(
                () => Task.FromResult(gateway.Logs.LogEvents.Any(e => Callbacks.CardCallbackEndpointTests.EventId(e) == 5004
                    && e.RenderMessage().Contains("could not be written within 2 s", StringComparison.Ordinal))),
                () => Task.FromResult("the deaf connection reported lost for an answer that could not be written"),
                StreamGateway.Patience);
            gateway.Stream.EndpointOverride = null;
            await gateway.OpenConnectionAsync(before);

            Assert.Single(gateway.Logs.LogEvents, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 5041); // once, however many answers were stuck behind it
            Assert.Single(events.GetMeasurementSnapshot(), m => (string)m.Tags["event"]! == "send_stalled");
        }
        finally
        {
            gateway.Stream.EndpointOverride = null;
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_connection_asked_to_go_that_closes_while_its_replacement_cannot_be_opened_is_reported_lost_and_the_next_one_says_how_long_it_was_down()
    {
        var gateway = await StreamGateway.StartAsync();
        try
        {
            var old = await gateway.OpenConnectionAsync();
            gateway.DingTalk.State.FailNext(HttpMethod.Post, StreamProtocol.OpenConnectionPath, 503, "system.busy", "try later", times: 10_000);
            var failedBefore = Events(gateway, 5003);
            await old.SendDisconnectAsync(closeAfter: StreamGateway.Patience); // its replacement cannot be opened: it keeps serving meanwhile
            await Callbacks.Eventually.TrueAsync(() => Events(gateway, 5003) > failedBefore, "the replacement's open call failed");

            var lostBefore = Events(gateway, 5004);
            var reconnectedBefore = Events(gateway, 5002);
            old.Drop();

            // Without this, the loss went unlogged and uncounted; the next connection was logged as the first (5001), no downtime.
            await Callbacks.Eventually.TrueAsync(() => Events(gateway, 5004) > lostBefore, "the old connection reported lost");
            gateway.DingTalk.State.ClearFaults();
            await gateway.OpenConnectionAsync(old);
            await Callbacks.Eventually.TrueAsync(() => Events(gateway, 5002) > reconnectedBefore, "the new connection logged with how long there was none");
        }
        finally
        {
            gateway.DingTalk.State.ClearFaults();
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task No_more_frames_are_handled_at_once_than_MaxFramesInFlight()
    {
        var gateway = await StreamGateway.StartAsync(new Dictionary<string, string?> { ["DingTalk:Stream:MaxFramesInFlight"] = "2" });
        try
        {
            var outTrackId = await gateway.SendCardAsync("tpl.count");

            var pushed = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
                gateway.Stream.PushCardCallbackAsync(outTrackId, $"u{i}", new { action = CountingHandler.Action, delayMs = "200" })));
            var answers = await Task.WhenAll(pushed.Select(m => m.Answered.WaitAsync(StreamGateway.Patience)));

            Assert.All(answers, a => Assert.Equal(200, a.Code));
            Assert.Equal(8, gateway.Invocations.For(outTrackId).Count);
            Assert.InRange(gateway.Invocations.MostAtOnce, 1, 2);
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task Frames_pushed_at_once_beyond_the_free_slots_are_all_answered_within_their_budget_counted_from_when_they_came()
    {
        // One slot, a 1 s budget, handlers of 2.5 s: each frame's answer is due 1 s after DingTalk pushed it. Counted from
        // when a frame got a slot, or from when it was read once a slot freed (the socket unread meanwhile), the later frames
        // of the burst were answered a budget after another, some after the first handler had ended.
        var gateway = await OneSlotAsync();
        try
        {
            var outTrackId = await gateway.SendCardAsync("tpl.count");

            var pushed = await PushEachAsync(gateway, outTrackId, "burst", 5, new { action = CountingHandler.Action, delayMs = "2500" });

            var answers = await Task.WhenAll(pushed.Select(m => m.Answered.WaitAsync(StreamGateway.Patience)));
            var finishedByThen = gateway.Invocations.Ended;

            Assert.Equal(0, finishedByThen); // every answer came before any handler ended: none waited a second budget
            Assert.All(answers, a => Assert.Equal((200, """{"response":{}}"""), (a.Code, a.Data))); // the budget's answer, not a lost one
            Assert.Contains(gateway.Logs.LogEvents, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 5042);
            await Callbacks.Eventually.TrueAsync(() => gateway.Invocations.For(outTrackId).Count == 5 && gateway.Invocations.Ended == 5, "every click handled after all");
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task No_more_handlers_run_at_once_than_MaxFramesInFlight_though_frames_are_answered_at_their_budget_and_each_click_is_handled_once()
    {
        // One slot, a 1 s budget, handlers held at a gate: the first overruns its budget while the frames behind it wait
        // their whole budget for its slot. Each is answered {} at its budget; none of their handlers may start while the
        // one holding the slot runs, whatever its answer did.
        var gateway = await OneSlotAsync();
        try
        {
            var outTrackId = await gateway.SendCardAsync("tpl.count");

            var pushed = await PushEachAsync(gateway, outTrackId, "held", StreamSession.WaitingPerSlot, new { action = CountingHandler.Action, gate = "held" });

            var answers = await Task.WhenAll(pushed.Select(m => m.Answered.WaitAsync(StreamGateway.Patience)));
            Assert.All(answers, a => Assert.Equal((200, """{"response":{}}"""), (a.Code, a.Data))); // every one at its budget, the gate still shut
            await Task.Delay(TimeSpan.FromMilliseconds(500)); // a handler started outside the bound has reached the gate by now

            Assert.Equal(1, gateway.Gate.Arrivals("held")); // only the one holding the slot runs
            gateway.Gate.Open("held");
            await Callbacks.Eventually.TrueAsync(() => gateway.Invocations.Ended == pushed.Count, "every click handled once the gate opens");

            Assert.Equal(1, gateway.Invocations.MostAtOnce);
            Assert.Equal(
                Enumerable.Range(0, pushed.Count).Select(i => $"held{i}"),
                gateway.Invocations.For(outTrackId).Select(r => r.UserId).Order(StringComparer.Ordinal)); // each click exactly once
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_frame_answered_while_it_waits_for_a_slot_is_logged_as_waiting_for_a_slot_not_for_storage()
    {
        // A burst behind one held slot: the frames behind it wait their whole budget for it, and never reach storage before their answer.
        var gateway = await OneSlotAsync();
        try
        {
            var outTrackId = await gateway.SendCardAsync("tpl.count");
            var pushed = await PushEachAsync(gateway, outTrackId, "burst", 3, new { action = CountingHandler.Action, gate = "log" });

            await Task.WhenAll(pushed.Select(m => m.Answered.WaitAsync(StreamGateway.Patience)));
            gateway.Gate.Open("log");
            await Callbacks.Eventually.TrueAsync(() => gateway.Invocations.Ended == pushed.Count, "every click handled");

            var said = gateway.Logs.LogEvents.Where(e => Callbacks.CardCallbackEndpointTests.EventId(e) == 5042).Select(e => e.RenderMessage()).ToList();
            Assert.NotEmpty(said);
            Assert.All(said, m => Assert.Contains("handled once a slot frees", m, StringComparison.Ordinal));
            Assert.DoesNotContain(gateway.Logs.LogEvents, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 3111); // none waited on storage
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_frame_answered_while_it_waits_for_a_slot_is_still_handled_when_the_gateway_stops()
    {
        // DingTalk has its {} and will not push it again: a stop that dropped it would lose the click.
        var gateway = await OneSlotAsync();
        try
        {
            var outTrackId = await gateway.SendCardAsync("tpl.count");
            await gateway.Stream.PushCardCallbackAsync(outTrackId, "holding", new { action = CountingHandler.Action, delayMs = "2500" });
            await Callbacks.Eventually.TrueAsync(() => gateway.Invocations.For(outTrackId).Count == 1, "the slow handler holds the only slot");
            var waiting = await gateway.Stream.PushCardCallbackAsync(outTrackId, "waiting", new { action = CountingHandler.Action });
            Assert.Equal("""{"response":{}}""", (await waiting.Answered.WaitAsync(StreamGateway.Patience)).Data);
            var invocations = gateway.Invocations; // the gateway's services go with it

            await gateway.App.DisposeAsync();

            Assert.Equal(2, invocations.Ended); // the stop waited for the click answered before its handler could run
            Assert.Contains(invocations.For(outTrackId), r => r.UserId == "waiting");
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_flapping_server_that_closes_every_connection_at_once_is_met_with_a_growing_jittered_backoff_up_to_its_cap()
    {
        // BackoffMin 100 ms, BackoffMax 1 s (StreamGateway): a connection that carried no frame never resets the backoff, so
        // the k-th loss in a row waits at least half of min(100 ms × 2^(k-1), 1 s), and never more than the cap.
        var gateway = await StreamGateway.StartAsync();
        await using var flapping = await StubStreamServer.ClosingAtOnceAsync();
        try
        {
            var before = await gateway.OpenConnectionAsync();
            gateway.Stream.EndpointOverride = flapping.Endpoint;
            before.Drop();
            await Callbacks.Eventually.TrueAsync(() => Flaps(gateway).Count >= 7, "seven connections closed at once by the flapping server");
            gateway.Stream.EndpointOverride = null;
            await gateway.OpenConnectionAsync(before);

            var delays = Flaps(gateway).Take(7).ToList();
            for (var k = 1; k <= delays.Count; k++)
            {
                var floor = Math.Min(100 * Math.Pow(2, k - 1), 1000) / 2;
                Assert.InRange(delays[k - 1], floor, 1000);
            }

            Assert.InRange(flapping.Accepted, 7, 9); // one connection per wait, not a tight loop
        }
        finally
        {
            gateway.Stream.EndpointOverride = null;
            await gateway.DisposeAsync();
        }

        static List<long> Flaps(StreamGateway gateway) => [.. gateway.Logs.LogEvents
            .Where(e => Callbacks.CardCallbackEndpointTests.EventId(e) == 5004 && e.RenderMessage().Contains("EndpointUnavailable", StringComparison.Ordinal))
            .Select(e => long.Parse(Callbacks.CardCallbackEndpointTests.Property(e, "DelayMs"), System.Globalization.CultureInfo.InvariantCulture))];
    }

    /// <summary>
    /// A database that fails under a frame (a full disk, a server gone): nothing was committed, so the frame is left
    /// unanswered for DingTalk to push again, as an HTTP click is answered 503 to retry. It is said as the database's
    /// failure, in its words and without a stack trace (not error 5014, the gateway's own fault), and readiness hears it.
    /// </summary>
    [Fact]
    public async Task A_frame_the_database_cannot_take_is_left_for_DingTalk_to_push_again_said_in_the_databases_words_and_heard_by_readiness()
    {
        var gateway = await StreamGateway.StartAsync();
        try
        {
            await gateway.OpenConnectionAsync();
            var outTrackId = await gateway.SendCardAsync("tpl.count");
            var batcher = gateway.App.Services.GetRequiredService<SqliteWriteBatcher>();
            var database = gateway.App.Services.GetRequiredService<GatewayDatabase>();
            await RenameAsync(batcher, "callbacks", "callbacks_away");

            var frame = await gateway.Stream.PushCardCallbackAsync(outTrackId, "u-away", new { action = CountingHandler.Action });
            await Callbacks.Eventually.TrueAsync(() => frame.Deliveries >= 2, "the unanswered frame pushed again");

            Assert.False(frame.Answered.IsCompleted, "no answer while the database fails");
            Assert.NotNull(database.Writes.Current);
            var said = Assert.Single(gateway.Logs.LogEvents, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 5024); // once for the run, not a delivery
            Assert.Equal(Serilog.Events.LogEventLevel.Warning, said.Level);
            Assert.Null(said.Exception);
            Assert.Contains("no such table: callbacks", said.RenderMessage(), StringComparison.Ordinal);
            Assert.Equal(0, Events(gateway, 5014));

            await RenameAsync(batcher, "callbacks_away", "callbacks");
            var answer = await frame.Answered.WaitAsync(StreamGateway.Patience);
            Assert.Equal(200, answer.Code);
            Assert.Contains("\"counted\"", answer.Data, StringComparison.Ordinal);
            await Callbacks.Eventually.TrueAsync(() => Events(gateway, 4141) > 0, "the run's end said");
            var back = Assert.Single(gateway.Logs.LogEvents, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 4141);
            Assert.Contains("left for DingTalk to push again", back.RenderMessage(), StringComparison.Ordinal);
        }
        finally
        {
            await gateway.DisposeAsync();
        }

        static Task<int> RenameAsync(SqliteWriteBatcher batcher, string from, string to) => batcher.OnWriterConnectionAsync(
            async connection =>
            {
                await connection.RunAsync(null, $"ALTER TABLE {from} RENAME TO {to}", default);
                return 1;
            },
            default);
    }

    /// <summary>A gateway with one frame slot and a 1 s answer budget: a frame behind a handler holding the slot waits its whole budget.</summary>
    private static Task<StreamGateway> OneSlotAsync() => StreamGateway.StartAsync(new Dictionary<string, string?>
    {
        ["DingTalk:Stream:MaxFramesInFlight"] = "1",
        ["Gateway:Callbacks:HandlerBudget"] = "00:00:01",
    });

    /// <summary>Clicks of users <paramref name="prefix"/>0, 1, … on the card, pushed one after another as DingTalk pushes a burst.</summary>
    private static async Task<List<SandboxStreamMessage>> PushEachAsync(StreamGateway gateway, string outTrackId, string prefix, int count, object parameters)
    {
        var pushed = new List<SandboxStreamMessage>();
        for (var i = 0; i < count; i++)
        {
            pushed.Add(await gateway.Stream.PushCardCallbackAsync(outTrackId, $"{prefix}{i}", parameters));
        }

        return pushed;
    }

    private static int Events(StreamGateway gateway, int eventId) =>
        gateway.Logs.LogEvents.Count(e => Callbacks.CardCallbackEndpointTests.EventId(e) == eventId);
}
