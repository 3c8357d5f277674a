using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.Sandbox.Stream;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>
/// A real gateway process taking votes over Stream while DingTalk's Stream side fails under it, one way after another:
/// the WebSocket closed cleanly, dropped without a close (TCP reset), black-holed (nothing through either way, no reset),
/// and the open-connection call refused, then timing out. Every click pushed is followed to its end.
/// </summary>
public sealed class StreamServerFaultTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string OpenPath = "/v1.0/gateway/connections/open";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);
    private FakeDingTalk _dingTalk = null!;
    private BlackHole _hole = null!;

    private SandboxStream Stream => _dingTalk.State.Stream;

    public async Task InitializeAsync()
    {
        _dingTalk = await FakeDingTalk.StartAsync();
        Stream.RedeliveryDelay = TimeSpan.FromSeconds(2);
        _hole = BlackHole.Start(_dingTalk.BaseAddress, hung: false);
        Stream.EndpointOverride = new Uri($"ws://127.0.0.1:{_hole.Port}{StreamProtocol.ConnectPath}"); // the WebSocket goes through the hole; the open call does not
    }

    public async Task DisposeAsync()
    {
        await _hole.DisposeAsync();
        await _dingTalk.DisposeAsync();
    }

    private static int Lost(string log) => log.Split('\n').Count(l => l.Contains("\"Id\":5004", StringComparison.Ordinal));

    [Fact]
    public async Task Votes_over_Stream_survive_the_server_closing_dropping_black_holing_and_refusing_each_handled_once()
    {
        const string card = "stream-fault-poll";
        var database = Path.Combine(Path.GetTempPath(), $"cg-stream-faults-{Guid.NewGuid():N}.db");
        var opens = new ConcurrentQueue<(long Ms, string How)>();
        var clock = Stopwatch.StartNew();
        var refuse = false;
        var hang = false;
        _dingTalk.AnswerInstead = (method, path) =>
        {
            if (path == OpenPath)
            {
                opens.Enqueue((clock.ElapsedMilliseconds, refuse ? "refused" : hang ? "hung" : "ok"));
                if (Volatile.Read(ref refuse))
                {
                    return new FakeDingTalk.RawAnswer(503, "application/json;charset=utf-8", """{"code":"ServiceUnavailable","message":"busy","requestid":"x"}""");
                }
            }

            return null;
        };
        _dingTalk.AnswerDelay = (method, path) => path == OpenPath && Volatile.Read(ref hang) ? TimeSpan.FromMinutes(5) : TimeSpan.Zero;

        var settings = new Dictionary<string, string?>
        {
            ["DingTalk:Stream:Enabled"] = "true",
            ["DingTalk:Stream:KeepAliveInterval"] = "00:00:03",
            ["DingTalk:Callback:PublicBaseUrl"] = "",
            ["Gateway:Storage:Provider"] = "Sqlite",
            ["Gateway:Storage:ConnectionString"] = $"Data Source={database}",
            ["Gateway:Outbox:PollInterval"] = "00:00:00.050",
        };
        var pushed = new ConcurrentQueue<(SandboxStreamMessage Message, string Voter)>();
        using var stopPushing = new CancellationTokenSource();
        try
        {
            await using var gateway = await GatewayProcess.StartAsync(_dingTalk, settings);
            var connection = await OpenAsync(null);
            using (var api = gateway.CreateAdminClient())
            {
                var sent = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = card, openConversationId = "cidStreamFaults==", cardData = new { title = "Faults?" } });
                await HttpAssert.JsonAsync(sent, HttpStatusCode.Created);
            }

            var pushers = Enumerable.Range(1, 4).Select(pusher => Task.Run(async () =>
            {
                for (var n = 1; !stopPushing.IsCancellationRequested; n++)
                {
                    var voter = $"f{pusher}-{n}";
                    var message = await Stream.PushCardCallbackAsync(card, voter, new { action = "vote", option = n % 2 == 0 ? "a" : "b" });
                    pushed.Enqueue((message, voter));
                    await Task.WhenAny(message.Answered, Task.Delay(500));
                }
            })).ToList();

            async Task<SandboxStreamConnection> OpenAsync(SandboxStreamConnection? after)
            {
                using var patience = new CancellationTokenSource(Patience);
                return await Stream.WaitForConnectionAsync(c => c.IsOpen && c.Id > (after?.Id ?? 0), patience.Token);
            }

            // Each fault meets a connection that has served a while (10 s resets the backoff), as an outage after a good spell does.
            async Task SteadyAsync()
            {
                var before = pushed.Count(p => p.Message.Answers.Count > 0);
                await Eventually.TrueAsync(() => pushed.Count(p => p.Message.Answers.Count > 0) >= before + 20, "20 more clicks answered");
                var age = DateTimeOffset.UtcNow - connection.ConnectedAt;
                if (age < TimeSpan.FromSeconds(11))
                {
                    await Task.Delay(TimeSpan.FromSeconds(11) - age);
                }
            }

            async Task<SandboxStreamConnection> PhaseAsync(string name, SandboxStreamConnection current, Func<SandboxStreamConnection, Task> fault, Func<Task>? heal = null)
            {
                await SteadyAsync();
                var openedBefore = opens.Count;
                var at = clock.ElapsedMilliseconds;
                await fault(current);
                if (heal is not null)
                {
                    await heal();
                }

                var next = await OpenAsync(current);
                var attempts = opens.Skip(openedBefore).Select(o => $"{o.Ms - at}:{o.How}");
                output.WriteLine($"{name}: new connection {next.ConnectedAt:HH:mm:ss.fff}, {clock.ElapsedMilliseconds - at} ms after the fault; open calls at [{string.Join(", ", attempts)}] ms");
                return next;
            }

            connection = await PhaseAsync("closed cleanly (1001)", connection, c => c.CloseAsync());
            connection = await PhaseAsync("dropped (reset)", connection, c => { c.Drop(); return Task.CompletedTask; });
            connection = await PhaseAsync(
                "black-holed 15 s",
                connection,
                _ => { _hole.Hang(); return Task.CompletedTask; },
                async () =>
                {
                    var hungAt = clock.ElapsedMilliseconds;
                    var lostBefore = Lost(gateway.Output);
                    await Eventually.TrueAsync(() => Lost(gateway.Output) > lostBefore, "the gateway noticing the black hole");
                    output.WriteLine($"black hole noticed {clock.ElapsedMilliseconds - hungAt} ms after it began");
                    await Task.Delay(TimeSpan.FromSeconds(15) - TimeSpan.FromMilliseconds(clock.ElapsedMilliseconds - hungAt));
                    _hole.Release();
                });
            connection = await PhaseAsync(
                "open refused 30 s",
                connection,
                c => { Volatile.Write(ref refuse, true); c.Drop(); return Task.CompletedTask; },
                async () => { await Task.Delay(TimeSpan.FromSeconds(30)); Volatile.Write(ref refuse, false); });
            connection = await PhaseAsync(
                "open timing out 30 s",
                connection,
                c => { Volatile.Write(ref hang, true); c.Drop(); return Task.CompletedTask; },
                async () => { await Task.Delay(TimeSpan.FromSeconds(30)); Volatile.Write(ref hang, false); });
            await SteadyAsync();

            await stopPushing.CancelAsync();
            await Task.WhenAll(pushers).WaitAsync(Patience);
            var all = pushed.Select(p => p.Message).ToList();
            await Task.WhenAll(all.Select(m => m.Answered)).WaitAsync(Patience);
            using var admin = gateway.CreateAdminClient();
            var expected = all.Count.ToString(CultureInfo.InvariantCulture);
            await Eventually.TrueAsync(() => _dingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("total") == expected, $"the card everyone sees showing all {expected} votes");
            var stored = await admin.GetFromJsonAsync<JsonElement>($"/api/cards/{card}");
            List<string> rows;
            await using (var db = new SqliteConnection($"Data Source={database};Mode=ReadOnly"))
            {
                rows = [.. await db.QueryAsync<string>("SELECT user_id FROM callbacks")];
            }

            output.WriteLine(
                $"{all.Count} clicks pushed, {all.Sum(m => m.Deliveries)} deliveries, {all.Count(m => m.Answers.Count > 1)} answered more than once, "
                + $"total {stored.GetProperty("card").GetProperty("publicData").GetProperty("total").GetString()}, {rows.Count} callbacks rows, {Stream.Connections.Count} connections");
            foreach (var line in gateway.Output.Split('\n').Where(l => (l.Contains("\"Id\":50", StringComparison.Ordinal) || l.Contains("\"@l\":\"Error\"", StringComparison.Ordinal) || l.Contains("\"@l\":\"Warning\"", StringComparison.Ordinal)) && !l.Contains("\"Id\":5015", StringComparison.Ordinal) && !l.Contains("\"Id\":5042", StringComparison.Ordinal)))
            {
                output.WriteLine(line);
            }

            Assert.All(all, m => Assert.Equal(200, m.Answers[0].Code));
            Assert.Equal(expected, stored.GetProperty("card").GetProperty("publicData").GetProperty("total").GetString());
            Assert.Equal(pushed.Select(p => p.Voter).Order(StringComparer.Ordinal), rows.Order(StringComparer.Ordinal));
            Assert.DoesNotContain("\"@l\":\"Error\"", gateway.Output, StringComparison.Ordinal);
            Assert.Empty(Stream.ProtocolErrors);
        }
        finally
        {
            await stopPushing.CancelAsync();
            SqliteFiles.Delete(database);
        }
    }
}
