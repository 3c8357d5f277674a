using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.Sandbox.Stream;
using Xunit.Abstractions;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>
/// A real gateway process on the Stream channel frozen (SIGSTOP) for longer than its <c>IdleTimeout</c> while DingTalk
/// goes on pushing frames, then resumed (SIGCONT): a paused VM, a throttled container, a laptop asleep. Frozen, it answers
/// no ping and no frame; resumed, every timer it had is overdue at once, and its socket may be dead or full of frames.
/// </summary>
public sealed class FrozenGatewayTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Freeze = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private const string Poll = "frozen-poll";

    private FakeDingTalk _dingTalk = null!;

    public async Task InitializeAsync() => _dingTalk = await FakeDingTalk.StartAsync();

    public async Task DisposeAsync() => await _dingTalk.DisposeAsync();

    [Theory]
    [InlineData(WhileFrozen.KeepsPushing)]
    [InlineData(WhileFrozen.AbandonsTheSocket)]
    [InlineData(WhileFrozen.DropsTheSocket)]
    public async Task Gateway_frozen_past_its_idle_timeout_handles_every_frame_once_reconnects_once_if_it_must_and_says_it_stood_still(WhileFrozen dingTalk)
    {
        var stream = _dingTalk.State.Stream;
        stream.PingInterval = TimeSpan.FromMilliseconds(300);
        stream.RedeliveryDelay = TimeSpan.FromSeconds(2);
        var database = Path.Combine(Path.GetTempPath(), $"cg-freeze-{Guid.NewGuid():N}.db");
        try
        {
            await using var gateway = await GatewayProcess.StartAsync(_dingTalk, new Dictionary<string, string?>
            {
                ["Gateway:Storage:Provider"] = "Sqlite",
                ["Gateway:Storage:ConnectionString"] = $"Data Source={database}",
                ["DingTalk:Stream:Enabled"] = "true",
                ["DingTalk:Stream:IdleTimeout"] = IdleTimeout.ToString(),
                ["DingTalk:Callback:PublicBaseUrl"] = "",
            });
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(50)); // a hang guard only
            var first = await stream.WaitForConnectionAsync(c => c.IsOpen, patience.Token);
            using var api = gateway.CreateAdminClient();
            var sent = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = Poll, openConversationId = "cidFrozen==", cardData = new { title = Poll } });
            await HttpAssert.JsonAsync(sent, HttpStatusCode.Created);

            // Each frame a vote of its own voter, so the tally counts the clicks handled and the callbacks recorded count the runs.
            var frames = new List<SandboxStreamMessage>();
            async Task VoteAsync(int count)
            {
                for (var i = 0; i < count; i++)
                {
                    frames.Add(await stream.PushCardCallbackAsync(Poll, $"voter{frames.Count}", new { action = "vote", option = "abc"[frames.Count % 3].ToString() }));
                }
            }

            await VoteAsync(10);
            await Task.WhenAll(frames.Select(f => f.Answered)).WaitAsync(Patience);
            await VoteAsync(5); // on their way, or being handled, as the process stops

            var frozen = Stopwatch.StartNew();
            await gateway.SuspendAsync();
            await Task.Delay(TimeSpan.FromSeconds(1));
            await VoteAsync(10); // into the frozen process's socket: unanswered, so pushed again every 2 s
            await Task.Delay(TimeSpan.FromSeconds(1));
            switch (dingTalk)
            {
                case WhileFrozen.AbandonsTheSocket:
                    first.GoSilent();
                    break;
                case WhileFrozen.DropsTheSocket:
                    first.Drop();
                    break;
            }

            await VoteAsync(10); // to that socket still, or to none until the gateway is back
            await Task.Delay(Freeze - frozen.Elapsed);
            await gateway.ResumeAsync();
            var resumedAt = DateTimeOffset.UtcNow;
            frozen.Stop();

            await Task.WhenAll(frames.Select(f => f.Answered)).WaitAsync(patience.Token);
            if (dingTalk != WhileFrozen.KeepsPushing)
            {
                await stream.WaitForConnectionAsync(c => c.Id > first.Id && c.IsOpen, patience.Token);
            }

            await Eventually.TrueAsync(
                async () => (await api.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK,
                async () => $"/health/ready answers 200 again: {await (await api.GetAsync("/health/ready")).Content.ReadAsStringAsync()}",
                Patience);
            await Eventually.TrueAsync(() => _dingTalk.State.FindCard(Poll)?.CardData.GetValueOrDefault("total") == frames.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), $"everyone's card shows all {frames.Count} votes");
            var callbacks = (await api.GetFromJsonAsync<JsonElement>($"/api/cards/{Poll}")).GetProperty("callbacks").EnumerateArray().ToList();
            var log = GatewayLogLine.ParseAll(gateway.Output);

            var connections = stream.Connections;
            var next = connections.FirstOrDefault(c => c.Id > first.Id);
            output.WriteLine(
                $"DingTalk {dingTalk}: frozen {frozen.Elapsed.TotalSeconds:0.0} s (IdleTimeout {IdleTimeout.TotalSeconds:0} s); {frames.Count} frames pushed {frames.Sum(f => f.Deliveries)} times "
                + $"({frames.Count(f => f.Deliveries > 1)} more than once), {frames.Sum(f => f.Answers.Count)} answers; {callbacks.Count} clicks recorded; "
                + $"{connections.Count} connections: {string.Join("; ", connections.Select(c => $"{c.Id} ({c.CloseReason ?? "open"}, {c.FramesSent} frames, pings included)"))}"
                + (next is null ? "" : $"; the next opened {(next.ConnectedAt - resumedAt).TotalMilliseconds:0} ms after SIGCONT"));
            foreach (var line in log.Where(l => l.Level != "Information"))
            {
                output.WriteLine($"{line.Level} {line.EventId}: {line.Message}");
            }

            // 1. Every frame answered 200 (on whichever connection), and every click handled once: one record each, each vote counted.
            Assert.All(frames, f => Assert.All(f.Answers, a => Assert.Equal(200, a.Code)));
            Assert.Empty(stream.ProtocolErrors);
            Assert.Equal(frames.Count, callbacks.Select(c => c.GetProperty("callbackId").GetString()).Distinct().Count());
            Assert.Equal(Enumerable.Range(0, frames.Count).Select(i => $"voter{i}").Order(StringComparer.Ordinal), callbacks.Select(c => c.GetProperty("userId").GetString()!).Order(StringComparer.Ordinal));
            Assert.All(callbacks, c => Assert.Contains(c.GetProperty("outcome").GetString(), new[] { "Handled", "Overran" }));
            var card = _dingTalk.State.FindCard(Poll)!.CardData;
            Assert.Equal(["12", "12", "11"], new[] { card["votes_a"], card["votes_b"], card["votes_c"] });

            // 2. One new connection where the old one is gone, none where DingTalk kept it: no reconnect storm.
            Assert.Equal(dingTalk == WhileFrozen.KeepsPushing ? 1 : 2, connections.Count);

            // 3. The log says the gateway stood still, and why the connection went; no error, no secret.
            Assert.Contains(log, l => l.EventId == 5017);
            var lost = log.Where(l => l.EventId == 5004).Select(l => l.Message).ToList();
            switch (dingTalk)
            {
                case WhileFrozen.KeepsPushing:
                    Assert.Empty(lost);
                    break;
                case WhileFrozen.AbandonsTheSocket:
                    Assert.Contains("no frame from DingTalk", Assert.Single(lost), StringComparison.Ordinal);
                    Assert.Single(log, l => l.EventId == 5002);
                    break;
                case WhileFrozen.DropsTheSocket:
                    Assert.DoesNotContain("no frame from DingTalk", Assert.Single(lost), StringComparison.Ordinal);
                    Assert.Single(log, l => l.EventId == 5002);
                    break;
            }

            Assert.DoesNotContain(log, l => l.Level is "Error" or "Fatal");
            string[] secrets = [_dingTalk.Options.AppSecret, GatewayFactory.AdminKey, .. connections.Select(c => c.Ticket), .. _dingTalk.State.Requests.Select(r => r.AccessToken).OfType<string>().Distinct()];
            Assert.All(secrets, secret => Assert.DoesNotContain(secret, gateway.Output, StringComparison.Ordinal));

            // 4. Alive.
            Assert.False(gateway.HasExited);
        }
        finally
        {
            SqliteFiles.Delete(database);
        }
    }
}
