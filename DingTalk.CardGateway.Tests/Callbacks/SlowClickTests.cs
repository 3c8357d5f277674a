using System.Net;
using System.Text.Json;
using DingTalk.CardGateway.Handlers.Poll;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// "The same click handled twice when work is slow", attacked: a handler slower than DingTalk's patience, its click
/// delivered again while it runs and after, signed again, failing late, raced by its own user, and reaching a second
/// replica — each click is handled once (or, signed at another moment, counted as the click of its own it is), and every
/// delivery gets an answer.
/// </summary>
[Collection(CallbackGatewayCollection.Name)]
public class SlowClickTests(CallbackGateway gateway)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_click_delivered_again_after_its_overrun_handler_ended_gets_the_answer_DingTalk_got_and_its_update_goes_out_once()
    {
        var card = await gateway.SendCardAsync("tpl.count");
        var gate = Guid.NewGuid().ToString("N");
        var body = DingTalkCallback.Body(card, "u1", new { action = "count", gate });
        var signedAt = DateTimeOffset.UtcNow;
        try
        {
            // Past its budget the handler's user gets {}; the handler goes on.
            Assert.Equal("{}", await DeliverAsync(gateway, body, signedAt));
            await gateway.Gate.Entered(gate).WaitAsync(Patience);
        }
        finally
        {
            gateway.Gate.Open(gate);
        }

        await Eventually.TrueAsync(async () => (await gateway.HistoryAsync(card)) is [{ Outcome: CallbackOutcome.Overran }], "the overrun click recorded");

        // DingTalk may deliver it again (its answer lost on the way): it gets the {} recorded, not the clicker update the
        // handler returned after DingTalk had its answer — what is recorded is what DingTalk got.
        Assert.Equal("{}", await DeliverAsync(gateway, body, signedAt));
        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("count") == "1", "the count for everyone");
        Assert.Equal(1, gateway.Gate.Arrivals(gate));
        Assert.Equal(CallbackOutcome.Overran, Assert.Single(await gateway.HistoryAsync(card)).Outcome);
        Assert.Single(CountsSent(gateway, card));
    }

    [Fact]
    public async Task A_click_signed_again_at_another_moment_while_the_first_still_runs_is_a_click_of_its_own()
    {
        var card = await gateway.SendCardAsync("tpl.count");
        var gate = Guid.NewGuid().ToString("N");
        var body = DingTalkCallback.Body(card, "u1", new { action = "count", gate });
        var signedAt = DateTimeOffset.UtcNow;
        try
        {
            Assert.Equal("{}", await DeliverAsync(gateway, body, signedAt));

            // The same body under another signature timestamp: nothing tells it from the user clicking again, so it is
            // handled — a handler whose action must happen once per user guards it in its state, as the poll does.
            Assert.Equal("{}", await DeliverAsync(gateway, body, signedAt.AddSeconds(1)));
        }
        finally
        {
            gateway.Gate.Open(gate);
        }

        // Both count (a run the other's change met is run again: arrivals at the gate count runs, not clicks).
        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("count") == "2", "both counts for everyone");
        var history = await gateway.HistoryAsync(card);
        Assert.Equal(2, history.Select(c => c.CallbackId).Distinct().Count());
        Assert.All(history, c => Assert.Equal(CallbackOutcome.Overran, c.Outcome));
    }

    [Fact]
    public async Task A_handler_that_fails_after_its_budget_keeps_and_sends_nothing_and_is_not_handled_again_on_redelivery()
    {
        var card = await gateway.SendCardAsync("tpl.count");
        var gate = Guid.NewGuid().ToString("N");
        var body = DingTalkCallback.Body(card, "u1", new { action = "script", @do = $"count,wait:{gate},throw" });
        var signedAt = DateTimeOffset.UtcNow;
        try
        {
            Assert.Equal("{}", await DeliverAsync(gateway, body, signedAt)); // answered at the budget, the handler still waiting
            Assert.Equal("{}", await DeliverAsync(gateway, body, signedAt)); // and delivered again meanwhile
        }
        finally
        {
            gateway.Gate.Open(gate);
        }

        await Eventually.TrueAsync(async () => (await gateway.HistoryAsync(card)) is [{ Outcome: CallbackOutcome.HandlerFailed }], "the failure recorded");
        Assert.Equal("{}", await DeliverAsync(gateway, body, signedAt));
        Assert.Equal(1, gateway.Gate.Arrivals(gate));
        await using var scope = gateway.App.Services.CreateAsyncScope();
        Assert.Null(await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().GetAsync<CountingStateHandler.Counter>(CountingStateHandler.State, card, CancellationToken.None));
        Assert.Single(await gateway.HistoryAsync(card));
        Assert.Empty(CountsSent(gateway, card));
    }

    [Fact]
    public Task Votes_one_user_sends_at_once_count_as_one_vote() => OneVoteEachAsync(gateway);

    [SkippableFact]
    public Task On_PostgreSQL_votes_one_user_sends_at_once_count_as_one_vote() => WaitingHandlerTests.OnPostgresAsync(OneVoteEachAsync);

    [SkippableFact]
    public Task On_PostgreSQL_a_click_delivered_to_two_replicas_while_its_handler_runs_past_the_budget_is_handled_once() =>
        WaitingHandlerTests.OnPostgresAsync(async first =>
        {
            var second = CallbackGateway.ReplicaOf(first);
            await second.InitializeAsync();
            var gate = Guid.NewGuid().ToString("N");
            try
            {
                var card = await first.SendCardAsync("tpl.count");
                var body = DingTalkCallback.Body(card, "u1", new { action = "count", gate });
                var signedAt = DateTimeOffset.UtcNow;

                // The first replica's handler waits past its budget: DingTalk has {} and, say, delivers again to the other.
                Assert.Equal("{}", await DeliverAsync(first, body, signedAt));
                await first.Gate.Entered(gate).WaitAsync(Patience);
                Assert.Equal("{}", await DeliverAsync(second, body, signedAt));
                first.Gate.Open(gate);

                await Eventually.TrueAsync(() => first.DingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("count") == "1", "the count for everyone");
                Assert.Equal("{}", await DeliverAsync(second, body, signedAt)); // and once more, after it was recorded
                Assert.Equal(1, first.Gate.Arrivals(gate));
                Assert.Equal(0, second.Gate.Arrivals(gate));
                Assert.Equal(CallbackOutcome.Overran, Assert.Single(await second.HistoryAsync(card)).Outcome);
                await using var scope = second.App.Services.CreateAsyncScope();
                var counter = await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().GetAsync<CountingStateHandler.Counter>(CountingStateHandler.State, card, CancellationToken.None);
                Assert.Equal(1, counter?.Count);
                Assert.Single(CountsSent(first, card));
            }
            finally
            {
                first.Gate.Open(gate);
                await second.DisposeAsync();
            }
        });

    /// <summary>
    /// Ten votes from one user, alternating two options, sent at once beside another voter's: the tally counts the user
    /// once, and everyone's card ends showing that tally.
    /// </summary>
    private static async Task OneVoteEachAsync(CallbackGateway at)
    {
        var card = await at.SendCardAsync("tpl.poll");
        await at.ClickAsync(card, "u2", new { action = "vote", option = "a" });

        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => at.ClickAsync(card, "u1", new { action = "vote", option = i % 2 == 0 ? "a" : "b" }))).WaitAsync(Patience);

        Assert.All(answers, a => Assert.Contains(a.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myVote").GetString(), new[] { "a", "b" }));
        Assert.All(await at.HistoryAsync(card), c => Assert.Equal(CallbackOutcome.Handled, c.Outcome));
        await using var scope = at.App.Services.CreateAsyncScope();
        var tally = await scope.ServiceProvider.GetRequiredService<IHandlerStateStore>().GetAsync<PollTally>("poll", card, CancellationToken.None);
        Assert.Equal(2, tally?.Total);
        Assert.Equal(2, tally!.Counts.Values.Sum());
        Assert.InRange(tally.Counts.GetValueOrDefault("a"), 1, 2);
        await Eventually.TrueAsync(
            () => at.DingTalk.State.FindCard(card)?.CardData is { } shown
                && shown.GetValueOrDefault("total") == "2"
                && shown.GetValueOrDefault("votes_a") == Text(tally.Counts.GetValueOrDefault("a"))
                && shown.GetValueOrDefault("votes_b", "0") == Text(tally.Counts.GetValueOrDefault("b")),
            "everyone's card showing the stored tally");
    }

    private static string Text(int count) => count.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The click <paramref name="body"/> signed at <paramref name="signedAt"/>, as DingTalk posts it; its 200 JSON answer.</summary>
    private static async Task<string> DeliverAsync(CallbackGateway at, string body, DateTimeOffset signedAt)
    {
        using var request = DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt);
        using var response = await at.DingTalkClient.SendAsync(request).WaitAsync(Patience);
        return (await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetRawText();
    }

    /// <summary>The <c>count</c> values of the card updates DingTalk took for <paramref name="card"/>, in order.</summary>
    private static List<string> CountsSent(CallbackGateway at, string card) =>
        [.. at.DingTalk.State.RequestsTo("/v1.0/card/instances")
            .Where(r => r.Method == "PUT" && r.Status == 200)
            .Select(r => JsonDocument.Parse(r.Body).RootElement)
            .Where(u => u.GetProperty("outTrackId").GetString() == card && u.GetProperty("cardData").GetProperty("cardParamMap").TryGetProperty("count", out _))
            .Select(u => u.GetProperty("cardData").GetProperty("cardParamMap").GetProperty("count").GetString()!)];
}
