using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using Dapper;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// A handler that awaits something slow (an HTTP call of its own) on SQLite: its unit leaves the one writer while it
/// waits, so other clicks go on, and comes back to commit as one transaction — or, if a state it changed was changed
/// meanwhile, runs again on the new state (failing once its runs again are spent) rather than keep a change resting on a
/// state that is gone.
/// </summary>
[Collection(CallbackGatewayCollection.Name)]
public class WaitingHandlerTests(CallbackGateway gateway)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_handler_waiting_on_something_slow_does_not_hold_up_other_cards_clicks()
    {
        var slowCard = await gateway.SendCardAsync("tpl.slow");
        var pollCard = await gateway.SendCardAsync("tpl.poll");
        var gate = Guid.NewGuid().ToString("N");
        var slow = gateway.ClickAsync(slowCard, "u1", new { action = "slow", gate });
        try
        {
            await gateway.Gate.Entered(gate).WaitAsync(Patience);

            // The slow handler is still waiting (its gate shut): a vote on another card is answered meanwhile.
            var vote = await gateway.ClickAsync(pollCard, "u2", new { action = "vote", option = "a" }).WaitAsync(Patience);

            Assert.Equal("a", Private(vote, "myVote"));
        }
        finally
        {
            gateway.Gate.Open(gate);
        }

        await slow;
        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(slowCard)?.CardData.GetValueOrDefault("slow") == "done", "the slow handler's update for everyone");
    }

    [Fact]
    public async Task A_handler_that_changed_state_then_waited_keeps_its_change_and_updates_everyone()
    {
        var card = await gateway.SendCardAsync("tpl.count");
        var other = await gateway.SendCardAsync("tpl.poll");
        var gate = Guid.NewGuid().ToString("N");

        var counting = gateway.ClickAsync(card, "u1", new { action = "count", gate });
        await VotedWhileItWaitsAsync(gateway, gate, other, "u2", "a"); // the writer is free meanwhile
        gateway.Gate.Open(gate);

        var answer = await counting;
        Assert.Equal("1", Private(answer, "myCount"));
        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("count") == "1", "the count for everyone");
        Assert.Equal(1, (await CounterAsync(card))?.Count);
        var callback = Assert.Single(await gateway.HistoryAsync(card));
        Assert.Equal(CallbackOutcome.Handled, callback.Outcome);
    }

    [Fact]
    public async Task A_handler_that_waits_twice_leaves_the_writer_twice_and_keeps_both_changes()
    {
        var card = await gateway.SendCardAsync("tpl.count");
        var other = await gateway.SendCardAsync("tpl.poll");
        var (first, then) = (Guid.NewGuid().ToString("N"), Guid.NewGuid().ToString("N"));

        var counting = gateway.ClickAsync(card, "u1", new { action = "count", gate = first, thenGate = then });
        await VotedWhileItWaitsAsync(gateway, first, other, "u2", "a");
        gateway.Gate.Open(first);
        await VotedWhileItWaitsAsync(gateway, then, other, "u3", "b");
        gateway.Gate.Open(then);

        var answer = await counting;
        Assert.Equal("2", Private(answer, "myCount"));
        Assert.Equal(2, (await CounterAsync(card))?.Count);
        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(other)?.CardData.GetValueOrDefault("total") == "2", "the other card's two votes");
    }

    [Fact]
    public async Task A_handler_whose_state_another_click_changed_while_it_waited_is_run_again_on_the_new_state()
    {
        using var runsAgain = new MetricCollector<long>(gateway.App.Services.GetRequiredService<IMeterFactory>(), GatewayMetrics.MeterName, "cardgateway.handler.runs_again");
        var card = await gateway.SendCardAsync("tpl.count");
        var gate = Guid.NewGuid().ToString("N");

        var waiting = gateway.ClickAsync(card, "u1", new { action = "count", gate });
        await gateway.Gate.Entered(gate).WaitAsync(Patience);
        var meanwhile = await gateway.ClickAsync(card, "u2", new { action = "count" }).WaitAsync(Patience);
        gateway.Gate.Open(gate);

        // u2's click went first. u1's change, made on the count before it, was undone, and its handler run again on
        // u2's count: both clicks count, and u1 is told the count its second run made.
        Assert.Equal("1", Private(meanwhile, "myCount"));
        Assert.Equal("2", Private(await waiting, "myCount"));
        Assert.Equal(2, (await CounterAsync(card))?.Count);
        Assert.Equal(2, gateway.Gate.Arrivals(gate));
        Assert.Contains(runsAgain.GetMeasurementSnapshot(), m => m.Value == 1 && Equals(m.Tags["reason"], "state_changed"));
        Assert.All(await gateway.HistoryAsync(card), c => Assert.Equal(CallbackOutcome.Handled, c.Outcome));
        var again = Assert.Single(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3119 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
        Assert.Contains("CountingStateHandler", again.RenderMessage(), StringComparison.Ordinal);
        Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) is 3106 or 3102 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("count") == "2", "both counts for everyone");
    }

    [Fact]
    public async Task With_no_runs_again_a_handler_whose_state_another_click_changed_while_it_waited_fails_instead_of_counting_on_a_stale_state()
    {
        var once = CallbackGateway.With(new Dictionary<string, string?> { ["Gateway:Callbacks:ConflictRetries"] = "0" });
        await once.InitializeAsync();
        try
        {
            var card = await once.SendCardAsync("tpl.count");
            var gate = Guid.NewGuid().ToString("N");

            var waiting = once.ClickAsync(card, "u1", new { action = "count", gate });
            await once.Gate.Entered(gate).WaitAsync(Patience);
            var meanwhile = await once.ClickAsync(card, "u2", new { action = "count" }).WaitAsync(Patience);
            once.Gate.Open(gate);

            // u2's click went first: u1's change, made before it waited, was not kept, and u1 is not told a count.
            Assert.Equal("1", Private(meanwhile, "myCount"));
            Assert.Equal("{}", (await waiting).GetRawText());
            Assert.Equal(1, once.Gate.Arrivals(gate));
            var history = await once.HistoryAsync(card);
            Assert.Equal(new[] { CallbackOutcome.HandlerFailed, CallbackOutcome.Handled }.Order(), history.Select(c => c.Outcome).Order());
            Assert.Contains(once.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3106 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
            Assert.DoesNotContain(once.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3119);
            await Eventually.TrueAsync(() => once.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("count") == "1", "u2's count for everyone");
        }
        finally
        {
            await once.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(2, 1)]
    [InlineData(2, 60)]
    [InlineData(10, 60)]
    [InlineData(10, 3600)]
    public void A_redelivery_tries_to_see_its_click_through_for_longer_than_the_delivery_holding_it_can_run(int conflictRetries, int handlerTimeoutSeconds)
    {
        var options = new CallbackHandlingOptions { ConflictRetries = conflictRetries, HandlerTimeout = TimeSpan.FromSeconds(handlerTimeoutSeconds) };

        var limit = CallbackPipeline.SeeThroughLimit(options);

        // Every run the holder's handler may get, each to its timeout and the wait for its cancellation; on PostgreSQL the
        // database's end of a holder that stopped.
        Assert.True(limit > (options.HandlerTimeout + HandlerDrain.AfterCancel) * (1 + conflictRetries), $"{limit} is not past every run of the holder");
        Assert.True(limit > options.TransactionIdleLimit, $"{limit} is not past the transaction's idle limit");
        Assert.True(limit >= options.HandlerTimeout * 2);
    }

    [Fact]
    public async Task A_redelivery_while_the_handler_waits_away_from_the_writer_is_answered_not_handled_again()
    {
        var card = await gateway.SendCardAsync("tpl.count");
        var other = await gateway.SendCardAsync("tpl.poll");
        var gate = Guid.NewGuid().ToString("N");
        var body = DingTalkCallback.Body(card, "u1", new { action = "count", gate });
        var signedAt = DateTimeOffset.UtcNow;

        var first = gateway.DingTalkClient.SendAsync(DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt));
        await VotedWhileItWaitsAsync(gateway, gate, other, "u2", "a"); // so the first unit has left the writer
        using var again = await gateway.DingTalkClient.SendAsync(DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt)).WaitAsync(Patience);
        gateway.Gate.Open(gate);

        // The redelivery waited for the first delivery's answer, in vain (its handler still waits), so it got {}; the
        // first is answered as its handler ends, or with {} past its budget. What matters is that the handler ran once
        // and its count was kept once.
        Assert.Equal("{}", (await HttpAssert.JsonAsync(again, HttpStatusCode.OK)).GetRawText());
        using var answer = await first;
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("count") == "1", "the count for everyone");
        Assert.Equal(1, gateway.Gate.Arrivals(gate));
        Assert.Equal(1, (await CounterAsync(card))?.Count);
        Assert.Contains(Assert.Single(await gateway.HistoryAsync(card)).Outcome, new[] { CallbackOutcome.Handled, CallbackOutcome.Overran });
    }

    [SkippableFact]
    public Task On_PostgreSQL_a_waiting_handler_holds_only_its_state_and_a_click_on_the_same_state_waits_for_it() =>
        OnPostgresAsync(async postgres =>
        {
            var card = await postgres.SendCardAsync("tpl.count");
            var other = await postgres.SendCardAsync("tpl.poll");
            var gate = Guid.NewGuid().ToString("N");

            var waiting = postgres.ClickAsync(card, "u1", new { action = "count", gate });
            await VotedWhileItWaitsAsync(postgres, gate, other, "u2", "a"); // another card's click goes on
            var after = postgres.ClickAsync(card, "u3", new { action = "count" }); // waits for the row lock, not a conflict
            postgres.Gate.Open(gate);

            Assert.Equal("1", Private((await waiting), "myCount"));
            Assert.Equal("2", Private((await after), "myCount"));
            await using var scope = postgres.App.Services.CreateAsyncScope();
            var counter = await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().GetAsync<CountingStateHandler.Counter>(CountingStateHandler.State, card, CancellationToken.None);
            Assert.Equal(2, counter?.Count);
        });

    [SkippableFact]
    public Task On_PostgreSQL_two_clicks_that_deadlock_on_a_card_and_its_state_both_count_the_one_failed_run_again() =>
        OnPostgresAsync(
            async postgres =>
            {
                using var runsAgain = new MetricCollector<long>(postgres.App.Services.GetRequiredService<IMeterFactory>(), GatewayMetrics.MeterName, "cardgateway.handler.runs_again");
                var card = await postgres.SendCardAsync("tpl.count");
                var (cardFirst, stateFirst) = (Guid.NewGuid().ToString("N"), Guid.NewGuid().ToString("N"));
                try
                {
                    // u1 updates the card (its row locked), u2 counts (the counter's row locked); then each wants the other's row.
                    var u1 = postgres.ClickAsync(card, "u1", new { action = "script", @do = $"card,wait:{cardFirst},count" });
                    await postgres.Gate.Entered(cardFirst).WaitAsync(Patience);
                    var u2 = postgres.ClickAsync(card, "u2", new { action = "script", @do = $"count,wait:{stateFirst},card" });
                    await postgres.Gate.Entered(stateFirst).WaitAsync(Patience);
                    postgres.Gate.Open(cardFirst);
                    postgres.Gate.Open(stateFirst);

                    // PostgreSQL fails one of them (40P01) and the other goes on; the failed one is run again after it.
                    var answers = await Task.WhenAll(u1, u2).WaitAsync(Patience);
                    Assert.Equal(["1", "2"], answers.Select(a => Private(a, "myCount")).Order());
                    Assert.Equal(["1", "2"], answers.Select(a => Private(a, "myRun")).Order()); // the one PostgreSQL failed ran twice
                    await using var scope = postgres.App.Services.CreateAsyncScope();
                    var counter = await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().GetAsync<CountingStateHandler.Counter>(CountingStateHandler.State, card, CancellationToken.None);
                    Assert.Equal(2, counter?.Count);
                    Assert.All(await postgres.HistoryAsync(card), c => Assert.Equal(CallbackOutcome.Handled, c.Outcome));
                    var again = Assert.Single(postgres.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3119 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
                    Assert.Contains("deadlock", again.RenderMessage(), StringComparison.Ordinal);
                    Assert.Equal("deadlock", Assert.Single(runsAgain.GetMeasurementSnapshot()).Tags["reason"]);
                    Assert.DoesNotContain(postgres.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3102 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
                }
                finally
                {
                    postgres.Gate.Open(cardFirst);
                    postgres.Gate.Open(stateFirst);
                }
            },
            new Dictionary<string, string?> { ["Gateway:Callbacks:HandlerBudget"] = "00:00:10" }); // PostgreSQL looks for deadlocks after a second

    [SkippableFact]
    public Task On_PostgreSQL_a_redelivery_while_an_overrun_handler_still_runs_is_answered_without_waiting_for_it() =>
        OnPostgresAsync(async postgres =>
        {
            var gate = Guid.NewGuid().ToString("N");
            try
            {
                var card = await postgres.SendCardAsync("tpl.count");
                var body = DingTalkCallback.Body(card, "u1", new { action = "count", gate });
                var signedAt = DateTimeOffset.UtcNow;

                // The handler waits at its gate past its budget: DingTalk already has {} while its transaction stays open.
                using var first = await postgres.DingTalkClient.SendAsync(DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt)).WaitAsync(Patience);
                Assert.Equal("{}", (await HttpAssert.JsonAsync(first, HttpStatusCode.OK)).GetRawText());

                // Its redelivery gets the same {} while the gate is still shut, instead of waiting on the open claim for as long
                // as the handler runs (DingTalk gives up after 2 s; over Stream the frame's slot would be held all that time).
                using var again = await postgres.DingTalkClient.SendAsync(DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt)).WaitAsync(Patience);
                Assert.Equal("{}", (await HttpAssert.JsonAsync(again, HttpStatusCode.OK)).GetRawText());
                // Answered as a redelivery at its budget, not as a click still waiting for storage that is handled after (3111).
                Assert.Contains(postgres.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3104 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
                Assert.DoesNotContain(postgres.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3111);
                postgres.Gate.Open(gate);

                await Eventually.TrueAsync(() => postgres.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("count") == "1", "the count for everyone");
                Assert.Equal(1, postgres.Gate.Arrivals(gate));
            }
            finally
            {
                postgres.Gate.Open(gate); // a failed assertion must not leave the handler waiting while the gateway stops
            }
        });

    [Fact]
    public async Task A_conflict_found_on_the_handlers_next_storage_call_runs_it_again_and_is_not_logged_as_a_handler_bug()
    {
        var card = await gateway.SendCardAsync("tpl.count");
        var gate = Guid.NewGuid().ToString("N");

        var waiting = gateway.ClickAsync(card, "u1", new { action = "script", @do = $"count,wait:{gate},count" });
        await gateway.Gate.Entered(gate).WaitAsync(Patience);
        await gateway.ClickAsync(card, "u2", new { action = "count" }).WaitAsync(Patience);
        gateway.Gate.Open(gate);

        // The first run's second count finds u2's change: that run is undone, and the second counts twice on top of u2's.
        var answer = await waiting;
        Assert.Equal("3", Private(answer, "myCount"));
        Assert.Equal("2", Private(answer, "myRun"));
        Assert.Equal(3, (await CounterAsync(card))?.Count);
        Assert.All(await gateway.HistoryAsync(card), c => Assert.Equal(CallbackOutcome.Handled, c.Outcome));
        Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3119 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
        Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) is 3102 or 3106 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_handler_that_overran_away_from_the_writer_keeps_its_change()
    {
        var card = await gateway.SendCardAsync("tpl.count");
        var gate = Guid.NewGuid().ToString("N");

        var answer = await gateway.ClickAsync(card, "u1", new { action = "script", @do = $"count,wait:{gate},card" }).WaitAsync(Patience);
        Assert.Equal("{}", answer.GetRawText());
        gateway.Gate.Open(gate);

        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("scripted") == "yes", "the overrun handler's update");
        Assert.Equal(1, (await CounterAsync(card))?.Count);
        Assert.Equal(CallbackOutcome.Overran, Assert.Single(await gateway.HistoryAsync(card)).Outcome);
    }

    [Fact]
    public async Task A_handler_that_fails_after_waiting_away_keeps_nothing_and_is_not_handled_again()
    {
        var card = await gateway.SendCardAsync("tpl.count");
        var other = await gateway.SendCardAsync("tpl.poll");
        var gate = Guid.NewGuid().ToString("N");
        var body = DingTalkCallback.Body(card, "u1", new { action = "script", @do = $"count,wait:{gate},throw" });
        var signedAt = DateTimeOffset.UtcNow;

        var first = gateway.DingTalkClient.SendAsync(DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt));
        await VotedWhileItWaitsAsync(gateway, gate, other, "u2", "a");
        gateway.Gate.Open(gate);
        using var answer = await first.WaitAsync(Patience);
        Assert.Equal("{}", (await HttpAssert.JsonAsync(answer, HttpStatusCode.OK)).GetRawText());

        using var again = await gateway.DingTalkClient.SendAsync(DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt)).WaitAsync(Patience);
        Assert.Equal("{}", (await HttpAssert.JsonAsync(again, HttpStatusCode.OK)).GetRawText());
        Assert.Equal(1, gateway.Gate.Arrivals(gate));
        Assert.Null(await CounterAsync(card));
        Assert.Equal(CallbackOutcome.HandlerFailed, Assert.Single(await gateway.HistoryAsync(card)).Outcome);
    }

    [Fact]
    public async Task A_handler_that_waits_then_reads_and_updates_the_card_keeps_everything()
    {
        var card = await gateway.SendCardAsync("tpl.count");
        var other = await gateway.SendCardAsync("tpl.poll");
        var (first, then) = (Guid.NewGuid().ToString("N"), Guid.NewGuid().ToString("N"));

        var clicking = gateway.ClickAsync(card, "u1", new { action = "script", @do = $"wait:{first},find,count,wait:{then},card" });
        await VotedWhileItWaitsAsync(gateway, first, other, "u2", "a");
        gateway.Gate.Open(first);
        await VotedWhileItWaitsAsync(gateway, then, other, "u3", "b");
        gateway.Gate.Open(then);

        var answer = await clicking;
        Assert.Equal("1", Private(answer, "myCount"));
        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("scripted") == "yes", "the card update");
        Assert.Equal(1, (await CounterAsync(card))?.Count);
        Assert.Equal(CallbackOutcome.Handled, Assert.Single(await gateway.HistoryAsync(card)).Outcome);
    }

    [Fact]
    public async Task A_handler_that_updates_the_card_before_waiting_keeps_the_writer_and_everything()
    {
        var card = await gateway.SendCardAsync("tpl.count");
        var gate = Guid.NewGuid().ToString("N");

        var clicking = gateway.ClickAsync(card, "u1", new { action = "script", @do = $"count,card,wait:{gate},count" });
        await gateway.Gate.Entered(gate).WaitAsync(Patience);
        gateway.Gate.Open(gate);

        var answer = await clicking;
        Assert.Equal("2", Private(answer, "myCount"));
        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("scripted") == "yes", "the card update");
        Assert.Equal(2, (await CounterAsync(card))?.Count);
    }

    [Fact]
    public async Task A_handler_that_holds_the_writer_while_it_waits_is_named_in_the_log_and_one_that_left_it_is_not()
    {
        var away = await gateway.SendCardAsync("tpl.count");
        var holding = await gateway.SendCardAsync("tpl.count");
        var (awayGate, holdingGate) = (Guid.NewGuid().ToString("N"), Guid.NewGuid().ToString("N"));

        // Only a state changed before its wait: its unit leaves the writer while it waits.
        var awayClick = gateway.ClickAsync(away, "u1", new { action = "script", @do = $"count,wait:{awayGate}" });
        await gateway.Gate.Entered(awayGate).WaitAsync(Patience);
        // A card updated before its wait: that cannot be written again, so its unit stays on the writer.
        var holdingClick = gateway.ClickAsync(holding, "u2", new { action = "script", @do = $"count,card,wait:{holdingGate}" });
        await gateway.Gate.Entered(holdingGate).WaitAsync(Patience);
        try
        {
            await Eventually.TrueAsync(() => HoldsWriterLogged(holding), "3114 naming the handler that holds the writer");
            var logged = gateway.Logs.LogEvents.First(e => CardCallbackEndpointTests.EventId(e) == 3114 && e.RenderMessage().Contains(holding, StringComparison.Ordinal));
            Assert.Contains("ScriptedHandler", logged.RenderMessage(), StringComparison.Ordinal);
            Assert.False(HoldsWriterLogged(away)); // it has waited longer, away from the writer
        }
        finally
        {
            gateway.Gate.Open(holdingGate);
            gateway.Gate.Open(awayGate);
        }

        Assert.Equal("1", Private(await holdingClick.WaitAsync(Patience), "myCount"));
        Assert.Equal("1", Private(await awayClick.WaitAsync(Patience), "myCount"));
        Assert.False(HoldsWriterLogged(away));

        bool HoldsWriterLogged(string card) =>
            gateway.Logs.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == 3114 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_change_another_click_made_and_undid_while_the_handler_waited_is_no_conflict()
    {
        var card = await gateway.SendCardAsync("tpl.count");
        var gate = Guid.NewGuid().ToString("N");

        var waiting = gateway.ClickAsync(card, "u1", new { action = "count", gate });
        await gateway.Gate.Entered(gate).WaitAsync(Patience);
        Assert.Equal("{}", (await gateway.ClickAsync(card, "u2", new { action = "script", @do = "count,throw" }).WaitAsync(Patience)).GetRawText());
        gateway.Gate.Open(gate);

        Assert.Equal("1", Private((await waiting), "myCount"));
        Assert.Equal(1, (await CounterAsync(card))?.Count);
    }

    [SkippableFact]
    public Task On_PostgreSQL_a_redelivery_whose_first_delivery_ended_without_a_record_is_handled_not_answered_empty_and_lost() =>
        OnPostgresAsync(
            async postgres =>
            {
                // The first delivery reached a replica that claimed it, and died before committing: its transaction holds the claim.
                await using var dying = postgres.App.Services.CreateAsyncScope();
                var (card, session, again) = await HoldAVoteAsync(postgres, dying);

                // DingTalk got no answer and delivers it again; this delivery is refused the claim and looks for the first one's record.
                var redelivered = postgres.DingTalkClient.SendAsync(again());
                await Eventually.TrueAsync(() => LooksForRecordAsync(session), "the redelivery looking for the first delivery's record");

                // The dying replica's transaction ends (PostgreSQL notices its socket closed): no record, and nobody else has the click.
                await session.RollbackAsync();

                using var answer = await redelivered.WaitAsync(Patience);
                var json = await HttpAssert.JsonAsync(answer, HttpStatusCode.OK);
                Assert.True(json.GetRawText() != "{}", "The redelivery was answered {} as if the first delivery were still running: the click is lost");
                Assert.Equal("a", Private(json, "myVote"));
                await Eventually.TrueAsync(() => postgres.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("total") == "1", "the vote counted for everyone");
            },
            new Dictionary<string, string?> { ["Gateway:Callbacks:HandlerBudget"] = "00:00:10" }); // the claim ends well within it

    [SkippableFact]
    public Task On_PostgreSQL_a_redelivery_answered_while_its_first_delivery_held_it_is_handled_if_that_one_ends_without_a_record_later() =>
        OnPostgresAsync(
            async postgres =>
            {
                await using var dying = postgres.App.Services.CreateAsyncScope();
                var (card, session, again) = await HoldAVoteAsync(postgres, dying);

                // The redelivery's budget runs out while the first delivery still holds the claim: DingTalk gets {} and will
                // not deliver the click again.
                using var answer = await postgres.DingTalkClient.SendAsync(again()).WaitAsync(Patience);
                Assert.Equal("{}", (await HttpAssert.JsonAsync(answer, HttpStatusCode.OK)).GetRawText());

                // Only then does the first delivery's transaction end, without a record: the click is still counted.
                await session.RollbackAsync();
                await Eventually.TrueAsync(() => postgres.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("total") == "1", "the vote counted for everyone");
                Assert.Equal(CallbackOutcome.Overran, Assert.Single(await postgres.HistoryAsync(card)).Outcome); // handled after its {} answer
                Assert.Contains(postgres.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3117 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
            },
            new Dictionary<string, string?> { ["Gateway:Callbacks:HandlerBudget"] = "00:00:00.200" });

    [SkippableFact]
    public Task On_PostgreSQL_a_click_whose_first_delivery_stopped_inside_its_transaction_is_handled_once_the_database_ends_that_transaction() =>
        OnPostgresAsync(
            async postgres =>
            {
                var card = await postgres.SendCardAsync("tpl.count");
                var gate = Guid.NewGuid().ToString("N");
                var body = DingTalkCallback.Body(card, "u1", new { action = "script", @do = $"count,hang:{gate}" });
                var signedAt = DateTimeOffset.UtcNow;
                try
                {
                    // The first delivery's handler stops, deaf to its token, its transaction open and idle, as a frozen
                    // replica's would be (a process stopped, a host cut off): PostgreSQL sees a session idle in a
                    // transaction, holding the click's claim and the counter's row.
                    using var first = await postgres.DingTalkClient.SendAsync(DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt)).WaitAsync(Patience);
                    Assert.Equal("{}", (await HttpAssert.JsonAsync(first, HttpStatusCode.OK)).GetRawText());
                    using var again = await postgres.DingTalkClient.SendAsync(DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt)).WaitAsync(Patience);
                    Assert.Equal("{}", (await HttpAssert.JsonAsync(again, HttpStatusCode.OK)).GetRawText());

                    // PostgreSQL ends that transaction past the longest a callback's transaction may sit idle
                    // (HandlerTimeout + 2 s + 5 s); the redelivery, trying the claim meanwhile, then handles the click.
                    await Eventually.TrueAsync(() => postgres.Gate.Arrivals(gate) == 2, "the click handled by its redelivery");
                }
                finally
                {
                    postgres.Gate.Open(gate);
                }

                await Eventually.TrueAsync(
                    async () => (await postgres.HistoryAsync(card)).SingleOrDefault()?.Outcome == CallbackOutcome.Overran,
                    "the click recorded once, by its redelivery");
                await using var scope = postgres.App.Services.CreateAsyncScope();
                var counter = await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().GetAsync<CountingStateHandler.Counter>(CountingStateHandler.State, card, CancellationToken.None);
                Assert.Equal(1, counter?.Count);
                Assert.DoesNotContain(postgres.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3118);

                // The first delivery, let go, cannot commit on the session PostgreSQL ended, and says the click was not lost.
                await Eventually.TrueAsync(
                    () => postgres.Logs.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == 3120 && e.RenderMessage().Contains(card, StringComparison.Ordinal)),
                    "the first delivery's failure, said as recorded elsewhere");
                Assert.DoesNotContain(postgres.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3112 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
            },
            new Dictionary<string, string?>
            {
                ["Gateway:Callbacks:HandlerBudget"] = "00:00:00.200",
                ["Gateway:Callbacks:HandlerTimeout"] = "00:00:01",
            });

    /// <summary>
    /// A vote on a new poll card whose first delivery claimed it on a replica and has not committed: the claim held in an
    /// open transaction of <paramref name="scope"/>'s session, returned to end it, with the vote's delivery to send again.
    /// </summary>
    private static async Task<(string Card, StorageSession Session, Func<HttpRequestMessage> Again)> HoldAVoteAsync(CallbackGateway at, AsyncServiceScope scope)
    {
        var card = await at.SendCardAsync("tpl.poll");
        var body = DingTalkCallback.Body(card, "u1", new { action = "vote", option = "a" });
        var signedAt = DateTimeOffset.UtcNow;
        Assert.True(CardActionParser.TryParse(Encoding.UTF8.GetBytes(body), CallbackTransport.Http, DingTalkCallback.Millis(signedAt), out var click, out _));
        var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
        await session.BeginAsync(default);
        Assert.True(await scope.ServiceProvider.GetRequiredService<ICallbackStore>().TryAddAsync(
            new CallbackRecord { CallbackId = click.CallbackId, CardId = card, Transport = "Http", Type = "ActionCallback", UserId = "u1", ReceivedAt = signedAt }, default));
        return (card, session, () => DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt));
    }

    /// <summary>Whether another connection of this database has read a callback by its id: only a redelivery looking for the first delivery's record does.</summary>
    private static Task<bool> LooksForRecordAsync(StorageSession session) =>
        session.ReadAsync(
            async (connection, transaction) =>
            {
                // A transaction sees the activity of other connections as it was when it first looked, unless told to look again.
                await connection.ExecuteAsync(new CommandDefinition("SELECT pg_stat_clear_snapshot()", transaction: transaction));
                return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%FROM callbacks WHERE callback_id = %')",
                    transaction: transaction));
            },
            CancellationToken.None);

    /// <summary>
    /// Runs <paramref name="test"/> on a gateway of its own on a fresh PostgreSQL database, with <paramref name="more"/>
    /// settings; skipped without a server.
    /// </summary>
    internal static async Task OnPostgresAsync(Func<CallbackGateway, Task> test, IReadOnlyDictionary<string, string?>? more = null)
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            var postgres = CallbackGateway.With(GatewayFactory.PostgresSettings(connectionString, more));
            try
            {
                await postgres.InitializeAsync();
                await test(postgres);
            }
            finally
            {
                await postgres.DisposeAsync();
            }
        });
    }

    /// <summary>Once a handler waits at <paramref name="gate"/>, a vote on another card is answered: the writer is free meanwhile.</summary>
    private static async Task VotedWhileItWaitsAsync(CallbackGateway at, string gate, string otherCard, string user, string option)
    {
        await at.Gate.Entered(gate).WaitAsync(Patience);
        await at.ClickAsync(otherCard, user, new { action = "vote", option }).WaitAsync(Patience);
    }

    /// <summary>A value of the clicker's private data in an answer.</summary>
    private static string? Private(System.Text.Json.JsonElement answer, string name) =>
        answer.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty(name).GetString();

    private async Task<CountingStateHandler.Counter?> CounterAsync(string card)
    {
        await using var scope = gateway.App.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().GetAsync<CountingStateHandler.Counter>(CountingStateHandler.State, card, CancellationToken.None);
    }
}
