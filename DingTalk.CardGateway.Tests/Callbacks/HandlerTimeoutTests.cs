using DingTalk.CardGateway.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// A handler that never returns (a call of its own with no timeout, a deadlock) must not hold its click's transaction
/// for as long as the process lives: past <c>Gateway:Callbacks:HandlerTimeout</c> its token is cancelled, and the
/// click is recorded as failed with its changes undone. One deaf to its token is named in the log.
/// </summary>
public sealed class HandlerTimeoutTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static readonly Dictionary<string, string?> ShortTimeout = new()
    {
        ["Gateway:Callbacks:HandlerBudget"] = "00:00:00.100",
        ["Gateway:Callbacks:HandlerTimeout"] = "00:00:00.500",
    };

    [Fact]
    public async Task A_handler_running_past_its_timeout_is_cancelled_and_its_click_recorded_as_failed_with_its_change_undone()
    {
        var gateway = CallbackGateway.With(ShortTimeout);
        await gateway.InitializeAsync();
        var gate = Guid.NewGuid().ToString("N");
        try
        {
            var card = await gateway.SendCardAsync("tpl.script");

            // It counts, then waits at a gate that never opens: DingTalk has {} at the budget.
            Assert.Equal("{}", (await gateway.ClickAsync(card, "u1", new { action = "script", @do = $"count,wait:{gate}" }).WaitAsync(Patience)).GetRawText());

            await Eventually.TrueAsync(async () => (await gateway.HistoryAsync(card)).Any(c => c.Outcome == CallbackOutcome.HandlerFailed), "the click recorded as failed");
            var timedOut = Assert.Single(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3115);
            Assert.Contains(card, timedOut.RenderMessage(), StringComparison.Ordinal);
            Assert.Contains("ScriptedHandler", timedOut.RenderMessage(), StringComparison.Ordinal);
            Assert.Null(timedOut.Exception); // an operator's timeout, not a bug with a stack trace (3102)
            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) is 3102 or 3116);

            // Its count was undone: the next click counts from nothing.
            var next = await gateway.ClickAsync(card, "u2", new { action = "script", @do = "count" }).WaitAsync(Patience);
            Assert.Equal("1", next.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myCount").GetString());
        }
        finally
        {
            gateway.Gate.Open(gate);
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task On_SQLite_a_handler_holding_the_writer_past_its_timeout_lets_it_go_and_the_clicks_behind_it_are_handled()
    {
        var gateway = CallbackGateway.With(ShortTimeout);
        await gateway.InitializeAsync();
        var gate = Guid.NewGuid().ToString("N");
        try
        {
            var card = await gateway.SendCardAsync("tpl.script");
            var poll = await gateway.SendCardAsync("tpl.poll");

            // u1 queues an update for everyone, which cannot be written again after a wait, so it keeps SQLite's writer while it waits.
            Assert.Equal("{}", (await gateway.ClickAsync(card, "u1", new { action = "script", @do = $"card,wait:{gate}" }).WaitAsync(Patience)).GetRawText());
            await gateway.Gate.Entered(gate).WaitAsync(Patience);

            // A vote on another card waits for the writer; once u1 is cancelled, it is handled.
            await gateway.ClickAsync(poll, "u2", new { action = "vote", option = "a" }).WaitAsync(Patience);
            await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(poll)?.CardData.GetValueOrDefault("total") == "1", "the vote behind the stuck handler counted");
            Assert.Contains(CallbackOutcome.HandlerFailed, (await gateway.HistoryAsync(card)).Select(c => c.Outcome));
            Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3115 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
            Assert.Null(gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("scripted")); // its queued update undone with it
        }
        finally
        {
            gateway.Gate.Open(gate);
            await gateway.DisposeAsync();
        }
    }

    [SkippableFact]
    public Task On_PostgreSQL_a_handler_deaf_to_its_timeout_is_named_and_a_click_waiting_for_its_lock_is_cancelled_at_its_own() =>
        WaitingHandlerTests.OnPostgresAsync(
            async postgres =>
            {
                var card = await postgres.SendCardAsync("tpl.script");
                var gate = Guid.NewGuid().ToString("N");
                try
                {
                    // u1 counts (the counter's row locked until its transaction ends), then waits deaf to its token.
                    var deaf = postgres.ClickAsync(card, "u1", new { action = "script", @do = $"count,hang:{gate}" });
                    await postgres.Gate.Entered(gate).WaitAsync(Patience);
                    Assert.Equal("{}", (await deaf.WaitAsync(Patience)).GetRawText());

                    // u2 waits for that row lock: at its own timeout its statement is cancelled, and its click fails.
                    Assert.Equal("{}", (await postgres.ClickAsync(card, "u2", new { action = "script", @do = "count" }).WaitAsync(Patience)).GetRawText());
                    await Eventually.TrueAsync(
                        () => postgres.Logs.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == 3115 && e.RenderMessage().Contains("user \"u2\"", StringComparison.Ordinal)),
                        "u2's handler cancelled at its timeout");
                    await Eventually.TrueAsync(
                        () => postgres.Logs.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == 3116 && e.RenderMessage().Contains(card, StringComparison.Ordinal)),
                        "u1 named as deaf to its token");
                    Assert.DoesNotContain(postgres.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3115 && e.RenderMessage().Contains("user \"u1\"", StringComparison.Ordinal));

                    // Once u1 returns after all, its count is kept (recorded as overran), and the lock is free again.
                    postgres.Gate.Open(gate);
                    await Eventually.TrueAsync(async () => (await postgres.HistoryAsync(card)).Any(c => c.Outcome == CallbackOutcome.Overran), "u1 committed");
                    var next = await postgres.ClickAsync(card, "u3", new { action = "script", @do = "count" }).WaitAsync(Patience);
                    Assert.Equal("2", next.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myCount").GetString());
                    Assert.Contains(CallbackOutcome.HandlerFailed, (await postgres.HistoryAsync(card)).Select(c => c.Outcome));
                }
                finally
                {
                    postgres.Gate.Open(gate);
                }
            },
            new Dictionary<string, string?>(ShortTimeout) { ["Gateway:Callbacks:HandlerTimeout"] = "00:00:01" });
}
