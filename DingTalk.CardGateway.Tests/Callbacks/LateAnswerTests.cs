using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Storage;
using Microsoft.Extensions.DependencyInjection;
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
    public async Task Waiting_for_storage_comes_off_the_handlers_budget_and_the_late_answer_says_storage_took_the_time()
    {
        var gateway = CallbackGateway.With(new Dictionary<string, string?>
        {
            ["Gateway:Callbacks:HandlerBudget"] = "00:00:01",
            ["Gateway:Callbacks:LateAnswer"] = "00:00:01.200",
        });
        await gateway.InitializeAsync();
        try
        {
            var card = await gateway.SendCardAsync("tpl.script");
            var hold = Guid.NewGuid().ToString("N");

            // u1's handler queues an update for the card (a write that keeps its unit on SQLite's writer), then waits:
            // answered {} at its budget, it holds the writer until the test opens its gate.
            Assert.Equal("{}", (await gateway.ClickAsync(card, "u1", new { action = "script", @do = $"card,wait:{hold}" }).WaitAsync(Patience)).GetRawText());

            // u2's claim waits for the writer longer than the whole budget. Its handler needs 100 ms — within a budget
            // counted from its start, but none is left of one counted from the arrival.
            var second = gateway.ClickAsync(card, "u2", new { action = "script", @do = "delay:100" });
            await Task.Delay(TimeSpan.FromMilliseconds(1500));
            gateway.Gate.Open(hold);

            Assert.Equal("{}", (await second.WaitAsync(Patience)).GetRawText()); // answered at once, without its clicker update
            var late = await Eventually.ValueAsync(
                () => gateway.Logs.LogEvents.FirstOrDefault(e => CardCallbackEndpointTests.EventId(e) == 3110 && e.RenderMessage().Contains("Slowest part: storage", StringComparison.Ordinal)),
                "the late answer's warning");
            Assert.Contains(card, late.RenderMessage(), StringComparison.Ordinal);
            Assert.Contains("handler \"ScriptedHandler\"", late.RenderMessage(), StringComparison.Ordinal);
            await Eventually.TrueAsync(
                async () => (await HistoryAsync(gateway, card)).SingleOrDefault(c => c.UserId == "u2")?.Outcome == CallbackOutcome.Overran,
                "u2's click recorded as overran once its handler ended");
        }
        finally
        {
            await gateway.DisposeAsync();
        }
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
        timeline.HandlerStarted();
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
        overran.HandlerStarted();
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

    private static async Task<IReadOnlyList<CallbackRecord>> HistoryAsync(CallbackGateway gateway, string card)
    {
        await using var scope = gateway.App.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ICallbackStore>().ForCardAsync(card, CancellationToken.None);
    }
}
