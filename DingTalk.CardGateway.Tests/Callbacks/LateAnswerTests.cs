using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// DingTalk's 2 seconds run from when it sent the callback, not from when the handler started: time a callback spends
/// waiting for storage comes off its handler's budget, and an answer that leaves late is logged with where its time went.
/// </summary>
public sealed class LateAnswerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_click_whose_storage_takes_the_whole_budget_is_answered_at_once_and_handled_when_storage_lets_it()
    {
        await CallbackGateway.RunAsync(new Dictionary<string, string?> { ["Gateway:Callbacks:HandlerBudget"] = "00:00:00.500" }, async gateway =>
        {
            var card = await gateway.SendCardAsync("tpl.count");
            var hold = await HoldWriterAsync(gateway);

            // u2's claim waits for SQLite's writer, which stays held: the answer cannot wait for it.
            Assert.Equal("{}", (await gateway.ClickAsync(card, "u2", new { action = "count" }).WaitAsync(Patience)).GetRawText());
            var said = Assert.Single(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3111 && e.RenderMessage().Contains(card, StringComparison.Ordinal));

            // Where its budget went: the two parts add up to the whole of it (give or take the milliseconds' rounding).
            var (reading, storage) = (long.Parse(CardCallbackEndpointTests.Property(said, "ReadingMs"), CultureInfo.InvariantCulture), long.Parse(CardCallbackEndpointTests.Property(said, "StorageMs"), CultureInfo.InvariantCulture));
            Assert.True(reading + storage >= 490, $"reading {reading} ms + storage {storage} ms is less than the 500 ms budget");

            gateway.Gate.Open(hold);
            await HandledAfterAsync(gateway, card, "u2's count for everyone, once storage let it through");
        });
    }

    [Fact]
    public async Task A_redelivery_whose_next_try_at_the_claim_waits_for_storage_is_answered_at_its_budget_and_the_click_handled_once()
    {
        // The first delivery counted, and waits away from SQLite's writer. DingTalk delivers it again: refused the claim, the
        // redelivery looks for the first one's record, and between its looks tries the claim again (in case the first ended
        // without one). Another click takes the writer meanwhile.
        await RedeliveredAsync("00:00:03", "count", holdLooks: false, async redelivery =>
        {
            var (gateway, card, gate) = (redelivery.Gateway, redelivery.Card, redelivery.Gate);
            var hold = await HoldWriterAsync(gateway);
            try
            {
                // Its try at the claim waits for the writer: at its budget it is answered {} all the same, not when the writer
                // is let go (DingTalk would have shown the user an error long before).
                using (var answer = await redelivery.Again.WaitAsync(Patience))
                {
                    Assert.Equal("{}", (await HttpAssert.JsonAsync(answer, System.Net.HttpStatusCode.OK)).GetRawText());
                }

                gateway.Gate.Open(hold);
                gateway.Gate.Open(gate);
                (await redelivery.First.WaitAsync(Patience)).Dispose();
                await HandledAfterAsync(gateway, card, "the click's count for everyone, once");
                Assert.Equal(1, gateway.Gate.Arrivals(gate));
                Assert.Single(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3104 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
            }
            finally
            {
                gateway.Gate.Open(hold);
            }
        });
    }

    [Fact]
    public async Task A_redelivery_whose_look_for_the_record_is_still_under_way_at_its_budget_answers_the_record_that_is_there_by_then()
    {
        // DingTalk delivers it again: refused the claim, the redelivery looks for the first one's record — a look that
        // is still under way when its budget runs out (as one between two polls is, in the last moments of the budget).
        await RedeliveredAsync("00:00:03", "slow", holdLooks: true, async redelivery =>
        {
            var (gateway, card, gate) = (redelivery.Gateway, redelivery.Card, redelivery.Gate);

            // Meanwhile the first delivery ends in time, and its record, with the clicker's private answer, is committed.
            gateway.Gate.Open(gate);
            string recorded;
            using (var firstAnswer = await redelivery.First.WaitAsync(Patience))
            {
                recorded = (await HttpAssert.JsonAsync(firstAnswer, System.Net.HttpStatusCode.OK)).GetRawText();
            }

            Assert.Contains("late", recorded, StringComparison.Ordinal);
            Assert.False(redelivery.Again.IsCompleted, "the redelivery was still waiting for its look when the record was committed");

            // At the budget the record is there: the redelivery answers it, not {}.
            using (var answer = await redelivery.Again.WaitAsync(Patience))
            {
                Assert.Equal(recorded, (await HttpAssert.JsonAsync(answer, System.Net.HttpStatusCode.OK)).GetRawText());
            }

            redelivery.LooksHeld.TrySetResult();
            Assert.Equal(1, gateway.Gate.Arrivals(gate));
            Assert.Equal(CallbackOutcome.Handled, Assert.Single(await gateway.HistoryAsync(card)).Outcome);
            Assert.Single(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3104 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
        });
    }

    [Fact]
    public async Task A_redelivery_answered_at_its_budget_that_then_meets_a_storage_error_says_the_click_stays_with_the_delivery_holding_it()
    {
        // The redelivery's look for the first delivery's record is still under way at its budget: answered {}.
        await RedeliveredAsync("00:00:02", "slow", holdLooks: true, async redelivery =>
        {
            var (gateway, card, gate) = (redelivery.Gateway, redelivery.Card, redelivery.Gate);
            using (var answer = await redelivery.Again.WaitAsync(Patience))
            {
                Assert.Equal("{}", (await HttpAssert.JsonAsync(answer, System.Net.HttpStatusCode.OK)).GetRawText());
            }

            // Then its look fails (the database away for a moment), while the first delivery still holds the click.
            redelivery.LooksHeld.SetException(new InvalidOperationException("storage away for a moment"));
            var said = await Eventually.ValueAsync(
                () => gateway.Logs.LogEvents.FirstOrDefault(e => CardCallbackEndpointTests.EventId(e) is 3112 or 3125 && e.RenderMessage().Contains(card, StringComparison.Ordinal)),
                "what the redelivery's failure is said as");

            Assert.Equal(3125, CardCallbackEndpointTests.EventId(said)); // not 3112, "the click is lost"
            Assert.Contains("holds the click", said.RenderMessage(), StringComparison.Ordinal);

            // Nothing was lost: the first delivery records the click.
            gateway.Gate.Open(gate);
            (await redelivery.First.WaitAsync(Patience)).Dispose();
            await Eventually.TrueAsync(async () => (await gateway.HistoryAsync(card)) is [{ Outcome: not CallbackOutcome.Pending }], "the first delivery's record");
            Assert.Equal(1, gateway.Gate.Arrivals(gate));
            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3112 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
        });
    }

    [Fact]
    public async Task A_click_answered_early_stays_on_the_in_flight_gauge_until_it_commits()
    {
        await CallbackGateway.RunAsync(new Dictionary<string, string?> { ["Gateway:Callbacks:HandlerBudget"] = "00:00:00.500" }, async gateway =>
        {
            using var inFlight = new MetricCollector<long>(
                gateway.App.Services.GetRequiredService<IMeterFactory>(), GatewayMetrics.MeterName, "cardgateway.callbacks.in_flight");
            var card = await gateway.SendCardAsync("tpl.count");
            var hold = await HoldWriterAsync(gateway); // u1's click, answered {} and still holding the writer

            Assert.Equal("{}", (await gateway.ClickAsync(card, "u2", new { action = "count" }).WaitAsync(Patience)).GetRawText());
            Assert.Equal(2, Latest(inFlight)); // both answered, neither committed

            gateway.Gate.Open(hold);
            await HandledAfterAsync(gateway, card, "u2's count for everyone, once storage let it through");
            await Eventually.TrueAsync(() => Latest(inFlight) == 0, "nothing in flight once both committed");
        });

        static long Latest(MetricCollector<long> gauge)
        {
            gauge.RecordObservableInstruments();
            return gauge.LastMeasurement?.Value ?? -1;
        }
    }

    [Fact]
    public async Task A_click_answered_early_is_handled_even_when_its_transport_goes_away_before_storage_lets_it()
    {
        await CallbackGateway.RunAsync(new Dictionary<string, string?> { ["Gateway:Callbacks:HandlerBudget"] = "00:00:00.300" }, async gateway =>
        {
            var card = await gateway.SendCardAsync("tpl.count");
            var hold = await HoldWriterAsync(gateway);

            // A Stream frame whose socket closes once it has its {}: DingTalk has the answer and will not deliver it again.
            var pipeline = gateway.App.Services.GetRequiredService<CallbackPipeline>();
            var clock = gateway.App.Services.GetRequiredService<TimeProvider>();
            using var socket = new CancellationTokenSource();
            var action = new CardAction
            {
                CallbackId = $"early-{Guid.NewGuid():N}",
                Transport = CallbackTransport.Stream,
                Type = CardActionType.ActionCallback,
                CardId = card,
                OutTrackId = card,
                UserId = "u2",
                Params = JsonSerializer.SerializeToElement(new { action = "count" }),
                Action = "count",
            };
            var reply = await pipeline.HandleAsync(action, clock.GetTimestamp(), Task.CompletedTask, socket.Token).WaitAsync(Patience);
            Assert.Equal("{}", reply.AnswerJson);
            await socket.CancelAsync();

            gateway.Gate.Open(hold);
            await HandledAfterAsync(gateway, card, "u2's count for everyone, its socket gone");
        });
    }

    [Fact]
    public async Task Waiting_for_storage_comes_off_the_handlers_budget()
    {
        await CallbackGateway.RunAsync(new Dictionary<string, string?> { ["Gateway:Callbacks:HandlerBudget"] = "00:00:02" }, async gateway =>
        {
            var card = await gateway.SendCardAsync("tpl.script");
            var hold = await HoldWriterAsync(gateway);

            // u2's claim waits at least 1.8 s for the writer (counted once it is in the pipeline, after its arrival); its
            // handler then needs 1.2 s: within a budget counted from the handler's start, past one counted from the arrival
            // by a second — room for the budget's timer to fire late on a loaded machine (with 300 ms of it, the handler
            // once ended first in CI, and its answer went out whole).
            var second = gateway.ClickAsync(card, "u2", new { action = "script", @do = "delay:1200" });
            var drain = gateway.App.Services.GetRequiredService<HandlerDrain>();
            await Eventually.TrueAsync(() => drain.Running == 2, "u2 in the pipeline beside u1, waiting for the writer");
            await Task.Delay(TimeSpan.FromMilliseconds(1800));
            gateway.Gate.Open(hold);

            Assert.Equal("{}", (await second.WaitAsync(Patience)).GetRawText()); // without its clicker update (myCount)
            await Eventually.TrueAsync(
                async () => (await gateway.HistoryAsync(card)).SingleOrDefault(c => c.UserId == "u2")?.Outcome == CallbackOutcome.Overran,
                "u2's click recorded as overran once its handler ended");
        });
    }

    [Fact]
    public async Task A_click_whose_handler_ends_in_time_but_whose_commit_waits_for_storage_is_answered_at_the_budget()
    {
        await CallbackGateway.RunAsync(new Dictionary<string, string?> { ["Gateway:Callbacks:HandlerBudget"] = "00:00:03" }, async gateway =>
        {
            var card = await gateway.SendCardAsync("tpl.script");

            var (answer, hold) = await EndedWhileTheWriterIsHeldAsync(gateway, card, "");

            Assert.Equal("{}", answer.GetRawText()); // without its clicker update (myCount)
            var early = Assert.Single(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3113);
            Assert.Contains(card, early.RenderMessage(), StringComparison.Ordinal);
            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3103 && e.RenderMessage().Contains(card, StringComparison.Ordinal));

            gateway.Gate.Open(hold);
            await Eventually.TrueAsync(
                async () => (await gateway.HistoryAsync(card)).SingleOrDefault(c => c.UserId == "u2")?.Outcome == CallbackOutcome.Overran,
                "u2's click recorded as overran once storage let it commit");
            var third = await gateway.ClickAsync(card, "u3", new { action = "script", @do = "count" }).WaitAsync(Patience);
            Assert.Equal("2", third.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myCount").GetString()); // u2's count was kept
            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3112);
        });
    }

    [Fact]
    public async Task A_click_whose_handler_failed_in_time_but_whose_commit_waits_for_storage_is_answered_at_the_budget_and_recorded_as_failed()
    {
        await CallbackGateway.RunAsync(new Dictionary<string, string?> { ["Gateway:Callbacks:HandlerBudget"] = "00:00:03" }, async gateway =>
        {
            var card = await gateway.SendCardAsync("tpl.script");

            var (answer, hold) = await EndedWhileTheWriterIsHeldAsync(gateway, card, ",throw");

            Assert.Equal("{}", answer.GetRawText());
            Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3113 && e.RenderMessage().Contains(card, StringComparison.Ordinal));

            gateway.Gate.Open(hold);
            await Eventually.TrueAsync(
                async () => (await gateway.HistoryAsync(card)).SingleOrDefault(c => c.UserId == "u2")?.Outcome == CallbackOutcome.HandlerFailed,
                "u2's click recorded as failed, not as overran, once storage let it commit");
            Assert.Equal("{}", (await gateway.HistoryAsync(card)).Single(c => c.UserId == "u2").AnswerJson);
            var third = await gateway.ClickAsync(card, "u3", new { action = "script", @do = "count" }).WaitAsync(Patience);
            Assert.Equal("1", third.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myCount").GetString()); // u2's count was rolled back
            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3112);
        });
    }

    [Fact]
    public async Task A_handler_that_holds_the_writer_while_it_waits_does_not_hold_back_the_answer_of_a_click_committed_before_it()
    {
        await CallbackGateway.RunAsync(new Dictionary<string, string?> { ["Gateway:Callbacks:HandlerBudget"] = "00:00:10" }, async gateway =>
        {
            var batcher = gateway.App.Services.GetRequiredService<SqliteWriteBatcher>();
            var (first, holding) = (await gateway.SendCardAsync("tpl.script"), await gateway.SendCardAsync("tpl.script"));
            var (firstGate, holdingGate) = (Guid.NewGuid().ToString("N"), Guid.NewGuid().ToString("N"));

            // u1's handler updates a card before it waits, so its unit stays on SQLite's writer meanwhile; u2's click comes
            // and waits for the writer — so once u1 is done, its batch stays open for u2 rather than committing at once.
            var firstClick = gateway.ClickAsync(first, "u1", new { action = "script", @do = $"count,card,wait:{firstGate}" });
            await gateway.Gate.Entered(firstGate).WaitAsync(Patience);
            var holdingClick = gateway.ClickAsync(holding, "u2", new { action = "script", @do = $"count,card,wait:{holdingGate}" });
            await Eventually.TrueAsync(() => batcher.Waiting == 1, "u2's click waits for the writer");
            gateway.Gate.Open(firstGate);

            // u2 takes the writer and holds it in turn. u1's commit is done already; its answer must not wait for u2's
            // handler (before, it came only once u2 let go of the writer: late, by as long as u2's handler waited).
            await gateway.Gate.Entered(holdingGate).WaitAsync(Patience);
            try
            {
                var answer = await firstClick.WaitAsync(Patience);
                Assert.Equal("1", answer.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myCount").GetString());
            }
            finally
            {
                gateway.Gate.Open(holdingGate);
            }

            var second = await holdingClick.WaitAsync(Patience);
            Assert.Equal("1", second.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myCount").GetString());
            foreach (var card in new[] { first, holding })
            {
                Assert.Equal(CallbackOutcome.Handled, Assert.Single(await gateway.HistoryAsync(card)).Outcome);
                await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("scripted") == "yes", $"{card}'s update for everyone");
            }

            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) is 3103 or 3111 or 3112 or 3113);
        });
    }

    [Fact]
    public async Task An_answer_that_leaves_late_is_logged_with_the_part_that_took_the_time()
    {
        // Wide margins on both sides (a handler of 2.5 s against a threshold of 2 s; a budget it cannot reach): a click
        // answered in time must not cross the threshold on a machine busy with the rest of the suite, as 300 ms once did.
        await CallbackGateway.RunAsync(new Dictionary<string, string?> { ["Gateway:Callbacks:LateAnswer"] = "00:00:02", ["Gateway:Callbacks:HandlerBudget"] = "00:00:10" }, async gateway =>
        {
            var card = await gateway.SendCardAsync("tpl.script");

            // A handler that blocks its thread holds its own answer (the budget cannot cut a thread short).
            var answer = await gateway.ClickAsync(card, "u1", new { action = "script", @do = "block:2500" }).WaitAsync(Patience);

            Assert.Equal("0", answer.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myCount").GetString());
            var late = Assert.Single(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3110);
            Assert.Contains(card, late.RenderMessage(), StringComparison.Ordinal);
            Assert.Contains("Slowest part: handler", late.RenderMessage(), StringComparison.Ordinal);
            Assert.Contains("handler \"ScriptedHandler\"", late.RenderMessage(), StringComparison.Ordinal);

            Assert.Equal("0", (await gateway.ClickAsync(card, "u2", new { action = "script", @do = "" }).WaitAsync(Patience))
                .GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myCount").GetString());
            Assert.Single(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3110); // an answer in time is not
        });
    }

    [Fact]
    public void The_budget_counts_from_the_arrival_and_a_late_answer_is_split_into_its_parts()
    {
        var clock = new FakeTimeProvider();
        var arrivedAt = clock.GetTimestamp();
        clock.Advance(TimeSpan.FromMilliseconds(30)); // reading and verifying
        var timeline = new AnswerTimeline(clock, arrivedAt);
        clock.Advance(TimeSpan.FromMilliseconds(700)); // the claim
        Assert.Equal(TimeSpan.FromMilliseconds(770), timeline.Remaining(TimeSpan.FromMilliseconds(1500)));
        timeline.HandlerStarted("PollHandler");
        clock.Advance(TimeSpan.FromMilliseconds(200));
        timeline.HandlerEnded();
        clock.Advance(TimeSpan.FromMilliseconds(1200)); // the commit
        Assert.Equal(TimeSpan.Zero, timeline.Remaining(TimeSpan.FromMilliseconds(1500)));

        Assert.Null(timeline.Late(TimeSpan.FromMilliseconds(2131)));
        var late = timeline.Late(TimeSpan.FromSeconds(2));
        Assert.Equal(
            new LateAnswer(TimeSpan.FromMilliseconds(2130), TimeSpan.FromMilliseconds(30), TimeSpan.FromMilliseconds(700), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(1200)),
            late);
        Assert.Equal("commit", late!.Slowest);
    }

    [Fact]
    public void An_overrun_handlers_part_runs_to_the_answer_and_without_a_handler_the_pipeline_is_all_storage()
    {
        var clock = new FakeTimeProvider();
        var overran = new AnswerTimeline(clock, clock.GetTimestamp());
        clock.Advance(TimeSpan.FromMilliseconds(100));
        overran.HandlerStarted("PollHandler");
        clock.Advance(TimeSpan.FromMilliseconds(1500));
        Assert.Equal(new LateAnswer(TimeSpan.FromMilliseconds(1600), TimeSpan.Zero, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(1500), TimeSpan.Zero), overran.Late(TimeSpan.FromSeconds(1)));
        Assert.Equal("handler", overran.Late(TimeSpan.FromSeconds(1))!.Slowest);

        var arrivedAt = clock.GetTimestamp();
        clock.Advance(TimeSpan.FromMilliseconds(50));
        var redelivery = new AnswerTimeline(clock, arrivedAt);
        clock.Advance(TimeSpan.FromMilliseconds(2500)); // waiting for the first delivery's answer
        Assert.Equal(new LateAnswer(TimeSpan.FromMilliseconds(2550), TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(2500), TimeSpan.Zero, TimeSpan.Zero), redelivery.Late(TimeSpan.FromSeconds(2)));
        Assert.Equal("storage", redelivery.Late(TimeSpan.FromSeconds(2))!.Slowest);
    }

    [Fact]
    public void A_callback_may_be_answered_early_until_its_outcome_is_being_committed_and_says_where_it_was()
    {
        var clock = new FakeTimeProvider();
        var claiming = new AnswerTimeline(clock, clock.GetTimestamp());
        Assert.Equal(AnswerStage.Storage, claiming.TryAnswerEarly());
        Assert.Null(claiming.TryAnswerEarly()); // once
        claiming.HandlerStarted("PollHandler");
        claiming.HandlerEnded();
        Assert.False(claiming.TryCommit()); // DingTalk has {}: that is what to record

        var inHandler = new AnswerTimeline(clock, clock.GetTimestamp());
        inHandler.HandlerStarted("PollHandler");
        Assert.Equal(AnswerStage.Handler, inHandler.TryAnswerEarly());
        Assert.Equal("PollHandler", inHandler.Handler);
        inHandler.HandlerEnded();
        Assert.False(inHandler.TryCommit());

        var committing = new AnswerTimeline(clock, clock.GetTimestamp());
        committing.HandlerStarted("PollHandler");
        committing.HandlerEnded();
        Assert.Equal(AnswerStage.Commit, committing.TryAnswerEarly());

        var committed = new AnswerTimeline(clock, clock.GetTimestamp());
        committed.HandlerStarted("PollHandler");
        committed.HandlerEnded();
        Assert.True(committed.TryCommit());
        Assert.Null(committed.TryAnswerEarly()); // its answer is the pipeline's, a moment away

        var redelivery = new AnswerTimeline(clock, clock.GetTimestamp());
        Assert.True(redelivery.Redelivered());
        Assert.Equal(AnswerStage.Redelivery, redelivery.TryAnswerEarly()); // still waiting for the first delivery's record, or for storage
        Assert.False(redelivery.TryAnswerRedelivery()); // its look at the record, after: said with the early answer, not again
        redelivery.Reclaiming(); // the first delivery ended without one: this one handles the click, its answer gone already
        redelivery.HandlerStarted("PollHandler");
        redelivery.HandlerEnded();
        Assert.False(redelivery.TryCommit());

        var answeredFromRecord = new AnswerTimeline(clock, clock.GetTimestamp());
        Assert.True(answeredFromRecord.Redelivered());
        Assert.True(answeredFromRecord.TryAnswerRedelivery());
        Assert.Null(answeredFromRecord.TryAnswerEarly()); // its answer is the record's, leaving now

        var gone = new AnswerTimeline(clock, clock.GetTimestamp());
        Assert.True(gone.TryAbandon());
        Assert.Null(gone.TryAnswerEarly()); // nobody to answer
        Assert.True(gone.TryCommit());
    }

    [Fact]
    public void An_early_answers_parts_end_where_the_callback_was_when_it_was_answered()
    {
        var clock = new FakeTimeProvider();
        var inHandler = new AnswerTimeline(clock, clock.GetTimestamp());
        clock.Advance(TimeSpan.FromMilliseconds(100));
        inHandler.HandlerStarted("PollHandler");
        clock.Advance(TimeSpan.FromMilliseconds(1500));
        Assert.Equal(AnswerStage.Handler, inHandler.TryAnswerEarly());
        clock.Advance(TimeSpan.FromMilliseconds(10));
        inHandler.HandlerEnded(); // in the background, before the answer's parts are read
        clock.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal(new LateAnswer(TimeSpan.FromMilliseconds(1620), TimeSpan.Zero, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(1520), TimeSpan.Zero), inHandler.Late(TimeSpan.FromSeconds(1)));

        var claiming = new AnswerTimeline(clock, clock.GetTimestamp());
        clock.Advance(TimeSpan.FromMilliseconds(1500));
        Assert.Equal(AnswerStage.Storage, claiming.TryAnswerEarly());
        clock.Advance(TimeSpan.FromMilliseconds(10));
        claiming.HandlerStarted("PollHandler"); // storage let it through just after its answer
        clock.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal(new LateAnswer(TimeSpan.FromMilliseconds(1520), TimeSpan.Zero, TimeSpan.FromMilliseconds(1520), TimeSpan.Zero, TimeSpan.Zero), claiming.Late(TimeSpan.FromSeconds(1)));
        Assert.Equal("storage", claiming.Late(TimeSpan.FromSeconds(1))!.Slowest);
    }

    /// <summary>
    /// Runs <paramref name="test"/> on a gateway of its own, its handler budget <paramref name="budget"/>, once a user's
    /// <paramref name="action"/> click is delivered twice: the first delivery waits in its handler at a gate of its own,
    /// and DingTalk's redelivery, refused the claim, has begun its look for the first one's record. With
    /// <paramref name="holdLooks"/>, each such look reads only once the test completes <see cref="Redelivery.LooksHeld"/>.
    /// Whatever the test leaves, the looks and the gate are let go before the gateway is disposed.
    /// </summary>
    private static async Task RedeliveredAsync(string budget, string action, bool holdLooks, Func<Redelivery, Task> test)
    {
        var lookedUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var looksHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gateway = CallbackGateway.With(
            new Dictionary<string, string?> { ["Gateway:Callbacks:HandlerBudget"] = budget },
            services => services.AddScoped<ICallbackStore>(s => new LookUpSeen(ActivatorUtilities.CreateInstance<SqlCallbackStore>(s), lookedUp, holdLooks ? looksHeld.Task : null)));
        await gateway.InitializeAsync();
        var gate = Guid.NewGuid().ToString("N");
        try
        {
            var card = await gateway.SendCardAsync($"tpl.{action}");
            var body = DingTalkCallback.Body(card, "u1", new { action, gate });
            var signedAt = DateTimeOffset.UtcNow;
            var first = gateway.DingTalkClient.SendAsync(DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt));
            await gateway.Gate.Entered(gate).WaitAsync(Patience);
            var again = gateway.DingTalkClient.SendAsync(DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt));
            await lookedUp.Task.WaitAsync(Patience);
            await test(new Redelivery(gateway, card, gate, first, again, looksHeld));
        }
        finally
        {
            looksHeld.TrySetResult();
            gateway.Gate.Open(gate);
            await gateway.DisposeAsync();
        }
    }

    /// <summary>
    /// u1's handler queues an update for a card of its own (a write that keeps its unit on SQLite's writer), then waits
    /// at the gate this returns: answered <c>{}</c> at its budget, it holds the writer — every other click's claim —
    /// until the test opens that gate.
    /// </summary>
    private static async Task<string> HoldWriterAsync(CallbackGateway gateway)
    {
        var hold = Guid.NewGuid().ToString("N");
        var holder = await gateway.SendCardAsync("tpl.script");
        var answer = gateway.ClickAsync(holder, "u1", new { action = "script", @do = $"card,wait:{hold}" });
        await gateway.Gate.Entered(hold).WaitAsync(Patience);
        Assert.Equal("{}", (await answer.WaitAsync(Patience)).GetRawText());
        return hold;
    }

    /// <summary>
    /// u2's handler on <paramref name="card"/> counts, then waits at a gate: its unit leaves SQLite's writer meanwhile,
    /// and u1's handler takes it (a card written, then a gate of its own). Then u2's gate opens, and its handler goes on
    /// with <paramref name="then"/> and ends well within its budget; getting back on the writer to commit cannot, while
    /// u1 holds it. Returns u2's answer, given while u1 still holds the writer, and the gate that frees it.
    /// </summary>
    private static async Task<(JsonElement Answer, string Hold)> EndedWhileTheWriterIsHeldAsync(CallbackGateway gateway, string card, string then)
    {
        var waiting = Guid.NewGuid().ToString("N");
        var clicked = gateway.ClickAsync(card, "u2", new { action = "script", @do = $"count,wait:{waiting}{then}" });
        await gateway.Gate.Entered(waiting).WaitAsync(Patience);
        var hold = Guid.NewGuid().ToString("N");
        var holder = await gateway.SendCardAsync("tpl.script");
        _ = gateway.ClickAsync(holder, "u1", new { action = "script", @do = $"card,wait:{hold}" });
        await gateway.Gate.Entered(hold).WaitAsync(Patience);

        gateway.Gate.Open(waiting);
        return (await clicked.WaitAsync(Patience), hold);
    }

    /// <summary>
    /// A count click answered early on <paramref name="card"/>, once storage let it through: its count reached everyone's
    /// card, it is recorded as overran (DingTalk got <c>{}</c> before its handler ran), and nothing was lost (3112).
    /// </summary>
    private static async Task HandledAfterAsync(CallbackGateway gateway, string card, string because)
    {
        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("count") == "1", because);
        Assert.Equal(CallbackOutcome.Overran, Assert.Single(await gateway.HistoryAsync(card)).Outcome);
        Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3112);
    }

    /// <summary>
    /// A click delivered twice (<see cref="RedeliveredAsync"/>): <see cref="First"/> waits at <see cref="Gate"/>,
    /// <see cref="Again"/> at its look for the first one's record.
    /// </summary>
    private sealed record Redelivery(CallbackGateway Gateway, string Card, string Gate, Task<HttpResponseMessage> First, Task<HttpResponseMessage> Again, TaskCompletionSource LooksHeld);

    /// <summary>
    /// The callback store, saying when a redelivery first looks for the first delivery's record; with
    /// <paramref name="heldUntil"/>, each such look (one that may wait for the record) reads only once that completes.
    /// </summary>
    private sealed class LookUpSeen(ICallbackStore inner, TaskCompletionSource lookedUp, Task? heldUntil = null) : ICallbackStore
    {
        public Task<bool> TryAddAsync(CallbackRecord callback, CancellationToken cancellationToken) => inner.TryAddAsync(callback, cancellationToken);

        public Task CompleteAsync(string callbackId, CallbackOutcome outcome, string? handler, string answerJson, CancellationToken cancellationToken) =>
            inner.CompleteAsync(callbackId, outcome, handler, answerJson, cancellationToken);

        public async Task<CallbackRecord?> FindAsync(string callbackId, TimeSpan maxWait, CancellationToken cancellationToken)
        {
            if (maxWait > TimeSpan.Zero)
            {
                lookedUp.TrySetResult();
                if (heldUntil is not null)
                {
                    await heldUntil;
                }
            }

            return await inner.FindAsync(callbackId, maxWait, cancellationToken);
        }

        public Task<IReadOnlyList<CallbackRecord>> ForCardAsync(string cardId, CancellationToken cancellationToken) => inner.ForCardAsync(cardId, cancellationToken);

        public Task<CallbackPage> HistoryAsync(string? cardId, CallbackHistoryQuery query, CancellationToken cancellationToken) => inner.HistoryAsync(cardId, query, cancellationToken);

        public Task<(IReadOnlyList<UnhandledActionGroup> Groups, bool More)> UnhandledAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken) =>
            inner.UnhandledAsync(since, limit, cancellationToken);
    }
}
