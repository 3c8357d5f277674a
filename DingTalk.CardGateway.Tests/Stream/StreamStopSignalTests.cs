using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.Sandbox.Stream;
using Microsoft.Data.Sqlite;
using Npgsql;
using Xunit.Abstractions;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>
/// A real gateway process whose clicks come over Stream, sent SIGTERM while several DingTalk users vote: only a real
/// process has the runtime's own signal handling. Every click pushed is followed to its end — answered by the stopping
/// process, or left unanswered and pushed again to the next one — and compared with what was stored and shown.
/// </summary>
public sealed class StreamStopSignalTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private FakeDingTalk _dingTalk = null!;

    private SandboxStream Stream => _dingTalk.State.Stream;

    public async Task InitializeAsync()
    {
        _dingTalk = await FakeDingTalk.StartAsync();
        Stream.RedeliveryDelay = TimeSpan.FromSeconds(2); // DingTalk's ~60 s, shortened: what the stop left is pushed again to the restart soon
    }

    public async Task DisposeAsync() => await _dingTalk.DisposeAsync();

    [Fact]
    public async Task A_SIGTERM_under_Stream_load_on_SQLite_answers_or_leaves_every_click_and_the_restart_handles_each_once()
    {
        var database = Path.Combine(Path.GetTempPath(), $"cg-stream-sigterm-{Guid.NewGuid():N}.db");
        try
        {
            var settings = Settings(new Dictionary<string, string?>
            {
                ["Gateway:Storage:Provider"] = "Sqlite",
                ["Gateway:Storage:ConnectionString"] = $"Data Source={database}",
            });
            await StopUnderLoadAsync(settings, async () =>
            {
                await using var connection = new SqliteConnection($"Data Source={database};Mode=ReadOnly");
                return [.. await connection.QueryAsync<string>("SELECT user_id FROM callbacks")];
            });
        }
        finally
        {
            SqliteFiles.Delete(database);
        }
    }

    [SkippableFact]
    public async Task A_SIGTERM_under_Stream_load_on_PostgreSQL_answers_or_leaves_every_click_and_the_restart_handles_each_once()
    {
        await PostgresServer.WithDatabaseAsync(connectionString => StopUnderLoadAsync(
            Settings(GatewayFactory.PostgresSettings(connectionString)),
            async () =>
            {
                await using var connection = new NpgsqlConnection(connectionString);
                return [.. await connection.QueryAsync<string>("SELECT user_id FROM callbacks")];
            }));
    }

    /// <summary>
    /// Six DingTalk users' worth of pushers vote, each vote a new voter, so the stored total counts the votes committed.
    /// SIGTERM comes mid-load; the pushing goes on through the stop and a while after it, as DingTalk's does. Every click
    /// answered by the stopping process is in the total; every other one is pushed again to the restarted process and
    /// handled there; none is handled twice (one <c>callbacks</c> row each) and the card everyone sees shows them all.
    /// </summary>
    private async Task StopUnderLoadAsync(Dictionary<string, string?> settings, Func<Task<List<string>>> storedCallbacks)
    {
        const string card = "stream-sigterm-poll";
        var pushed = new ConcurrentQueue<(SandboxStreamMessage Message, string Voter, DateTimeOffset At)>();
        var answeredCount = 0;
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stopPushing = new CancellationTokenSource();
        DateTimeOffset signalledAt;
        DateTimeOffset exitedAt;
        int exitCode;
        string log;
        List<Task> pushers;
        await using (var gateway = await GatewayProcess.StartAsync(_dingTalk, settings))
        {
            using (var patience = new CancellationTokenSource(Patience))
            {
                await Stream.WaitForConnectionAsync(c => c.IsOpen, patience.Token);
            }

            using (var api = gateway.CreateAdminClient())
            {
                var sent = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = card, openConversationId = "cidStreamStop==", cardData = new { title = "Stop?" } });
                await HttpAssert.JsonAsync(sent, HttpStatusCode.Created);
            }

            pushers = [.. Enumerable.Range(1, 6).Select(pusher => Task.Run(async () =>
            {
                for (var n = 1; !stopPushing.IsCancellationRequested; n++)
                {
                    var voter = $"s{pusher}-{n}";
                    var message = await Stream.PushCardCallbackAsync(card, voter, new { action = "vote", option = n % 2 == 0 ? "a" : "b" });
                    pushed.Enqueue((message, voter, DateTimeOffset.UtcNow));
                    _ = message.Answered.ContinueWith(
                        _ =>
                        {
                            if (Interlocked.Increment(ref answeredCount) == 100)
                            {
                                enough.TrySetResult();
                            }
                        },
                        CancellationToken.None,
                        TaskContinuationOptions.ExecuteSynchronously,
                        TaskScheduler.Default);
                    // A user clicks again once answered, or after a moment when no answer comes (the gateway is stopping, or gone).
                    await Task.WhenAny(message.Answered, Task.Delay(500));
                }
            }))];

            await enough.Task.WaitAsync(Patience);
            signalledAt = DateTimeOffset.UtcNow; // before the signal: the gateway may answer or close before `kill` has returned
            await gateway.SendSignalAsync("TERM");
            exitCode = await gateway.WaitForExitAsync(Patience);
            exitedAt = DateTimeOffset.UtcNow;
            log = gateway.Output;
        }

        await Task.Delay(TimeSpan.FromSeconds(1)); // DingTalk pushes on while no gateway is connected: those wait for the next one
        await stopPushing.CancelAsync();
        await Task.WhenAll(pushers).WaitAsync(Patience);

        var beforeSignal = pushed.Where(p => p.At < signalledAt).Select(p => p.Message).ToList();
        var inFlight = beforeSignal.Where(m => m.Answers.Count == 0 || m.Answers[0].ReceivedAt > signalledAt).ToList();
        var inFlightAnsweredByStop = inFlight.Where(m => m.Answers.Count > 0).ToList();
        var afterSignal = pushed.Where(p => p.At >= signalledAt).Select(p => p.Message).ToList();
        var answeredByStop = pushed.Count(p => p.Message.Answers.Count > 0);
        var lastAnswer = pushed.SelectMany(p => p.Message.Answers).Select(a => a.ReceivedAt).DefaultIfEmpty(signalledAt).Max();

        // A new process on the same database: DingTalk pushes it what was left unanswered; each is handled once.
        await using var restarted = await GatewayProcess.StartAsync(_dingTalk, settings);
        var all = pushed.Select(p => p.Message).ToList();
        await Task.WhenAll(all.Select(m => m.Answered)).WaitAsync(Patience);
        using var admin = restarted.CreateAdminClient();
        var expected = all.Count.ToString(CultureInfo.InvariantCulture);
        string? total = null;
        List<string> rows = [];
        // A click answered {} past its budget is kept on disk first; one the stop left unhandled is recovered by the restart
        // in the background, so the total gets there a moment after the last answer.
        await Eventually.TrueAsync(
            async () =>
            {
                var stored = await admin.GetFromJsonAsync<JsonElement>($"/api/cards/{card}");
                total = stored.GetProperty("card").GetProperty("publicData").GetProperty("total").GetString();
                rows = await storedCallbacks();
                return total == expected && rows.Count == all.Count;
            },
            () => Task.FromResult($"the total ({total}) and the callbacks rows ({rows.Count}) counting all {expected} clicks"),
            Patience);

        output.WriteLine(
            $"exit code {exitCode}, {(exitedAt - signalledAt).TotalMilliseconds:0} ms after SIGTERM; {all.Count} clicks pushed, {beforeSignal.Count} before the signal, "
            + $"{inFlight.Count} in flight at it ({inFlightAnsweredByStop.Count} answered by the stopping gateway, the last {(lastAnswer - signalledAt).TotalMilliseconds:0} ms after the signal), "
            + $"{afterSignal.Count} after it ({afterSignal.Count(m => m.Answers.Count > 0 && m.Answers[0].ReceivedAt <= exitedAt)} of them answered by the stopping gateway); "
            + $"answered by the stopping gateway: {answeredByStop}; total after the restart {total}, {rows.Count} callbacks rows, "
            + $"{all.Sum(m => m.Deliveries)} deliveries, {all.Count(m => m.Answers.Count > 1)} clicks answered more than once");
        foreach (var line in log.Split('\n').Where(l => l.Contains("\"Id\":50", StringComparison.Ordinal) || l.Contains("\"Id\":111", StringComparison.Ordinal)))
        {
            output.WriteLine(line);
        }

        Assert.Equal(0, exitCode);
        var stopped = Assert.Single(log.Split('\n'), line => line.Contains("\"Id\":1112", StringComparison.Ordinal));
        Assert.Matches("Stopped \\d+ ms after the stop began: (nothing left undone|left undone: )", stopped);
        var left = log.Split('\n').Count(line => line.Contains("\"Id\":5015", StringComparison.Ordinal));
        if (left > 0) // clicks that came as the connection closed wait for DingTalk to push them again: the stop says so
        {
            Assert.Contains($"{left} Stream frame(s) that came as the connection closed, not taken up, for DingTalk to push again (5015)", stopped, StringComparison.Ordinal);
        }
        else
        {
            Assert.DoesNotContain("Stream frame(s)", stopped, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("Exception", log, StringComparison.Ordinal);
        Assert.DoesNotContain("\"@l\":\"Error\"", log, StringComparison.Ordinal);
        Assert.DoesNotContain("\"@l\":\"Fatal\"", log, StringComparison.Ordinal);
        Assert.All(all, m => Assert.Equal(200, m.Answers[0].Code));
        Assert.Equal(expected, total); // every click once: none answered and lost, none counted twice
        Assert.Equal(pushed.Select(p => p.Voter).Order(StringComparer.Ordinal), rows.Order(StringComparer.Ordinal)); // one record per click
        Assert.Empty(Stream.ProtocolErrors);
        await Eventually.TrueAsync(() => _dingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("total") == expected, $"the card everyone sees showing all {expected} votes");
    }

    private static Dictionary<string, string?> Settings(Dictionary<string, string?> storage)
    {
        storage["DingTalk:Stream:Enabled"] = "true";
        storage["DingTalk:Callback:PublicBaseUrl"] = "";
        storage["Gateway:Outbox:PollInterval"] = "00:00:00.050";
        return storage;
    }
}
