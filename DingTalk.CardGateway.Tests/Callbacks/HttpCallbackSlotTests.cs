using System.Net;
using System.Text;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// A burst of slow HTTP clicks runs no more handlers at once than <c>Gateway:Callbacks:MaxInFlight</c>: the rest wait for a
/// slot, each answered <c>{}</c> at its budget and handled once a slot frees; one more than can wait is refused with 503,
/// said once; and once a click gets a slot at once again, the refusals are summed up.
/// </summary>
public class HttpCallbackSlotTests
{
    private const int Slots = 2;
    private const int Waiting = HttpCallbackSlots.WaitingPerSlot * Slots;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Gateway:Callbacks:MaxInFlight"] = Slots.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Gateway:Callbacks:HandlerBudget"] = "00:00:00.300",
    };

    [Fact]
    public Task Slow_clicks_beyond_the_slots_wait_are_answered_at_their_budget_and_handled_in_turn_and_one_more_is_refused_with_503() =>
        CallbackGateway.RunAsync(Settings, async gateway =>
        {
            var card = await gateway.SendCardAsync("tpl.slots");
            var (robotCard, robotPath) = await gateway.SendRobotCardAsync(new { contents = new object[] { new { type = "markdown", text = "busy", id = "intro" } } });
            var gate = Guid.NewGuid().ToString("N");
            try
            {
                // Two take the slots, their handlers held at the gate past their budget; eight wait for a slot past theirs.
                var answers = await Task.WhenAll(Enumerable.Range(0, Slots + Waiting).Select(i => ClickAsync(gateway, card, $"u{i}", new { action = "slow", gate })));
                Assert.All(answers, answer => Assert.Equal("{}", answer));
                Assert.Equal(Slots, gateway.Gate.Arrivals(gate));
                Assert.Equal(Waiting, gateway.Logs.LogEvents.Count(e => CardCallbackEndpointTests.EventId(e) == 3128 && e.RenderMessage().Contains(card, StringComparison.Ordinal)));

                // Every waiting place is taken: one more click is not, on either route, and it is said once.
                using (var refused = await SendAsync(gateway, DingTalkCallback.Signed(DingTalkCallback.Body(card, "u-late", new { action = "slow", gate }), GatewayFactory.ApiSecret)))
                {
                    var problem = await HttpAssert.ProblemAsync(refused, HttpStatusCode.ServiceUnavailable);
                    Assert.Equal("Gateway busy", problem.GetProperty("title").GetString());
                    Assert.Contains("Gateway:Callbacks:MaxInFlight", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
                    Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
                }

                using (var refused = await SendAsync(gateway, DingTalkCallback.Post(robotPath, Encoding.UTF8.GetBytes(DingTalkCallback.RobotBody(robotCard, "u-late", new { action = "slow", gate })))))
                {
                    await HttpAssert.ProblemAsync(refused, HttpStatusCode.ServiceUnavailable);
                }

                Assert.Single(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3129);
                Assert.Equal(Slots, gateway.Gate.Arrivals(gate));
            }
            finally
            {
                gateway.Gate.Open(gate);
            }

            // Each click taken is handled once, as answered early; the refused ones were never taken.
            await Eventually.TrueAsync(
                async () => (await gateway.HistoryAsync(card)).Count(c => c.Outcome == CallbackOutcome.Overran) == Slots + Waiting,
                "every click taken handled");
            Assert.Equal(Slots + Waiting, gateway.Gate.Arrivals(gate));
            Assert.Equal(Slots + Waiting, (await gateway.HistoryAsync(card)).Count);

            // A slot free at once again: a click is answered as usual, and the refusals are summed up.
            var answer = await ClickAsync(gateway, card, "u-next", new { action = "count" });
            Assert.Contains("\"myCount\"", answer, StringComparison.Ordinal);
            var taken = Assert.Single(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3130);
            Assert.Equal("2", CardCallbackEndpointTests.Property(taken, "Refused"));
        });

    [Fact]
    public Task A_click_that_gets_a_slot_within_its_budget_is_answered_with_its_handlers_clicker_part() =>
        CallbackGateway.RunAsync(new Dictionary<string, string?> { ["Gateway:Callbacks:MaxInFlight"] = "1", ["Gateway:Callbacks:HandlerBudget"] = "00:00:10" }, async gateway =>
        {
            var card = await gateway.SendCardAsync("tpl.slots");
            var (first, second) = (Guid.NewGuid().ToString("N"), Guid.NewGuid().ToString("N"));
            var firstAnswer = ClickAsync(gateway, card, "u1", new { action = "slow", gate = first });
            await gateway.Gate.Entered(first).WaitAsync(Patience);
            var secondAnswer = ClickAsync(gateway, card, "u2", new { action = "slow", gate = second });
            try
            {
                // The only slot is the first click's: the second waits for it before its handler starts.
                gateway.Gate.Open(first);
                Assert.Contains("\"mine\"", await firstAnswer.WaitAsync(Patience), StringComparison.Ordinal);
                await gateway.Gate.Entered(second).WaitAsync(Patience);
            }
            finally
            {
                gateway.Gate.Open(first);
                gateway.Gate.Open(second);
            }

            Assert.Contains("\"mine\"", await secondAnswer.WaitAsync(Patience), StringComparison.Ordinal);
            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) is 3128 or 3129);
            Assert.All(await gateway.HistoryAsync(card), c => Assert.Equal(CallbackOutcome.Handled, c.Outcome));
        });

    [Fact]
    public Task A_click_whose_sender_gives_up_while_it_waits_for_a_slot_gives_its_place_back_and_is_not_handled() =>
        CallbackGateway.RunAsync(new Dictionary<string, string?> { ["Gateway:Callbacks:MaxInFlight"] = "1", ["Gateway:Callbacks:HandlerBudget"] = "00:00:10" }, async gateway =>
        {
            var card = await gateway.SendCardAsync("tpl.slots");
            var slots = gateway.App.Services.GetRequiredService<HttpCallbackSlots>();
            var gate = Guid.NewGuid().ToString("N");
            var first = ClickAsync(gateway, card, "u0", new { action = "slow", gate });
            await gateway.Gate.Entered(gate).WaitAsync(Patience);
            try
            {
                // Every waiting place taken by senders that then give up before their answer.
                using var givingUp = new CancellationTokenSource();
                var abandoned = Enumerable.Range(1, HttpCallbackSlots.WaitingPerSlot)
                    .Select(i => gateway.DingTalkClient.SendAsync(DingTalkCallback.Signed(DingTalkCallback.Body(card, $"gone{i}", new { action = "slow", gate }), GatewayFactory.ApiSecret), givingUp.Token))
                    .ToList();
                await Eventually.TrueAsync(() => slots.Waiting == HttpCallbackSlots.WaitingPerSlot, "every waiting place taken");
                await givingUp.CancelAsync();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.WhenAll(abandoned));
                await Eventually.TrueAsync(() => slots.Waiting == 0, "the places given back");

                // The places are free for the next clicks, which are taken, not refused.
                var next = Enumerable.Range(1, HttpCallbackSlots.WaitingPerSlot).Select(i => ClickAsync(gateway, card, $"next{i}", new { action = "slow", gate })).ToList();
                await Eventually.TrueAsync(() => slots.Waiting == HttpCallbackSlots.WaitingPerSlot, "the next clicks waiting");
                gateway.Gate.Open(gate);
                await Task.WhenAll(next).WaitAsync(Patience);
                await first.WaitAsync(Patience);
            }
            finally
            {
                gateway.Gate.Open(gate);
            }

            // The abandoned clicks were never taken: only the first and the next ones ran and are recorded.
            Assert.Equal(1 + HttpCallbackSlots.WaitingPerSlot, gateway.Gate.Arrivals(gate));
            Assert.Equal(
                ["next1", "next2", "next3", "next4", "u0"],
                (await gateway.HistoryAsync(card)).Select(c => c.UserId).Order(StringComparer.Ordinal));
            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) is 3128 or 3129);
        });

    /// <summary>A signed click through <see cref="CallbackGateway.ClickAsync"/>; its answer as JSON text.</summary>
    private static async Task<string> ClickAsync(CallbackGateway gateway, string card, string user, object parameters) =>
        (await gateway.ClickAsync(card, user, parameters).WaitAsync(Patience)).GetRawText();

    private static async Task<HttpResponseMessage> SendAsync(CallbackGateway gateway, HttpRequestMessage request)
    {
        using (request)
        {
            return await gateway.DingTalkClient.SendAsync(request).WaitAsync(Patience);
        }
    }
}
