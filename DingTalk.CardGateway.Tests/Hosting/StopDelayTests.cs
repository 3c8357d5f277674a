using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// <c>Gateway:Callbacks:StopDelay</c>, on a real process sent real signals: after SIGTERM the gateway still answers
/// clicks, with readiness 503, until the delay ends or a second signal cuts it short. Without it, a click a Kubernetes
/// Service still routes to the pod in the second after SIGTERM finds the port closed.
/// </summary>
public sealed class StopDelayTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private FakeDingTalk _dingTalk = null!;

    public async Task InitializeAsync() => _dingTalk = await FakeDingTalk.StartAsync();

    public async Task DisposeAsync() => await _dingTalk.DisposeAsync();

    [Fact]
    public async Task After_SIGTERM_a_click_is_still_answered_and_counted_with_readiness_503_until_a_second_signal_stops_it_at_once()
    {
        const string card = "delayed-stop-poll";
        var database = Path.Combine(Path.GetTempPath(), $"cg-stopdelay-{Guid.NewGuid():N}.db");
        try
        {
            await using var gateway = await GatewayProcess.StartAsync(_dingTalk, new Dictionary<string, string?>
            {
                ["Gateway:Storage:ConnectionString"] = $"Data Source={database}",
                ["Gateway:Callbacks:StopDelay"] = "00:05:00", // far longer than the test: only the second signal ends it
            });
            using var admin = gateway.CreateAdminClient();
            using var http = gateway.CreateClient();
            var sent = await admin.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = card, openConversationId = "cidDelay==", cardData = new { title = "Delay?" } });
            await HttpAssert.JsonAsync(sent, HttpStatusCode.Created);
            using (var ready = await http.GetAsync("/health/ready"))
            {
                Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            }

            await gateway.SendSignalAsync("TERM");
            await Eventually.TrueAsync(() => gateway.Output.Contains("\"Id\":1115", StringComparison.Ordinal), "the delay's first line (1115)");

            using (var ready = await http.GetAsync("/health/ready"))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
                var stopping = (await ready.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("checks").GetProperty("stopping");
                Assert.Equal("Unhealthy", stopping.GetProperty("status").GetString());
                Assert.Contains("Gateway:Callbacks:StopDelay", stopping.GetProperty("description").GetString(), StringComparison.Ordinal);
            }

            using (var vote = DingTalkCallback.Signed(DingTalkCallback.Body(card, "after-sigterm", new { action = "vote", option = "a" }), GatewayFactory.ApiSecret))
            using (var answer = await http.SendAsync(vote))
            {
                var body = await HttpAssert.JsonAsync(answer, HttpStatusCode.OK);
                Assert.Equal("a", body.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myVote").GetString());
            }

            var stored = await admin.GetFromJsonAsync<JsonElement>($"/api/cards/{card}");
            Assert.Equal("1", stored.GetProperty("card").GetProperty("publicData").GetProperty("total").GetString());
            Assert.False(gateway.HasExited);

            await gateway.SendSignalAsync("TERM");

            Assert.Equal(0, await gateway.WaitForExitAsync(Patience));
            Assert.Contains("\"Id\":1116", gateway.Output, StringComparison.Ordinal);
            Assert.Matches("Stopped \\d+ ms after the stop began: nothing left undone", gateway.Output);
            Assert.DoesNotContain("Exception", gateway.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("\"@l\":\"Error\"", gateway.Output, StringComparison.Ordinal);
        }
        finally
        {
            SqliteFiles.Delete(database);
        }
    }

    [Fact]
    public async Task A_delay_that_runs_out_ends_in_the_ordinary_stop_with_exit_code_0()
    {
        var database = Path.Combine(Path.GetTempPath(), $"cg-stopdelay-{Guid.NewGuid():N}.db");
        try
        {
            await using var gateway = await GatewayProcess.StartAsync(_dingTalk, new Dictionary<string, string?>
            {
                ["Gateway:Storage:ConnectionString"] = $"Data Source={database}",
                ["Gateway:Callbacks:StopDelay"] = "00:00:00.300",
            });

            await gateway.SendSignalAsync("TERM");

            Assert.Equal(0, await gateway.WaitForExitAsync(Patience));
            Assert.Contains("\"Id\":1115", gateway.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("\"Id\":1116", gateway.Output, StringComparison.Ordinal); // not cut short: it ran out
            Assert.Matches("Stopped \\d+ ms after the stop began: nothing left undone", gateway.Output);
            Assert.DoesNotContain("\"@l\":\"Error\"", gateway.Output, StringComparison.Ordinal);
        }
        finally
        {
            SqliteFiles.Delete(database);
        }
    }
}
