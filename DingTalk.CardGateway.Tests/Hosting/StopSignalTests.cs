using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// The gateway as a real process told to stop by a signal — SIGTERM, as <c>docker stop</c> and a Kubernetes rollout
/// send it, or SIGINT (Ctrl+C) — while it is busy or still starting. Only a real process has the runtime's own
/// signal handling: a <c>WebApplicationFactory</c> host is stopped by a call, not a signal.
/// </summary>
public sealed class StopSignalTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private FakeDingTalk _dingTalk = null!;

    public async Task InitializeAsync() => _dingTalk = await FakeDingTalk.StartAsync();

    public async Task DisposeAsync() => await _dingTalk.DisposeAsync();

    /// <summary>
    /// Before the host runs, the runtime's default answer to a signal was to end the process at once: exit code 143 (or
    /// 130), not a line in the log. Now the wait for the database ends, the gateway says why it stopped, and exits 0.
    /// </summary>
    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task A_signal_while_startup_waits_for_the_database_stops_the_gateway_with_a_line_and_exit_code_0(string signal)
    {
        var settings = GatewayFactory.PostgresSettings($"Host=127.0.0.1;Port={ClosedPort.Take()};Username=cardgateway;Password=unused;Database=cardgateway");
        settings["Gateway:Storage:StartupWait"] = "00:10:00";
        await using var gateway = await GatewayProcess.StartUntilAsync(_dingTalk, settings, "not reachable yet");

        await gateway.SendSignalAsync(signal);

        Assert.Equal(0, await gateway.WaitForExitAsync(Patience));
        Assert.Contains("\"Id\":1111", gateway.Output, StringComparison.Ordinal);
        Assert.Contains($"Stopped by SIG{signal} while starting", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("cannot start", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_SIGTERM_under_load_on_SQLite_keeps_every_answered_vote_and_frees_the_file_for_the_next_start()
    {
        var database = Path.Combine(Path.GetTempPath(), $"cg-sigterm-{Guid.NewGuid():N}.db");
        try
        {
            var settings = Settings(new Dictionary<string, string?>
            {
                ["Gateway:Storage:Provider"] = "Sqlite",
                ["Gateway:Storage:ConnectionString"] = $"Data Source={database}",
            });
            await StopUnderLoadAsync(settings, afterExit: () =>
            {
                var wal = database + "-wal";
                Assert.True(!File.Exists(wal) || new FileInfo(wal).Length == 0, "the write-ahead log checkpointed into the database at the stop");
            });
        }
        finally
        {
            SqliteFiles.Delete(database);
        }
    }

    [SkippableFact]
    public async Task A_SIGTERM_under_load_on_PostgreSQL_keeps_every_answered_vote_and_sends_what_was_pending_after_the_restart()
    {
        await PostgresServer.WithDatabaseAsync(connectionString => StopUnderLoadAsync(Settings(GatewayFactory.PostgresSettings(connectionString))));
    }

    /// <summary>
    /// Several clients vote, each vote a new voter, so the stored total counts the votes committed; SIGTERM comes mid-load.
    /// Every vote answered 200 is in the total after a restart, no other is, and the card everyone sees shows it.
    /// </summary>
    private async Task StopUnderLoadAsync(Dictionary<string, string?> settings, Action? afterExit = null)
    {
        const string card = "sigterm-poll";
        var answered = new ConcurrentBag<string>();
        var signalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (var gateway = await GatewayProcess.StartAsync(_dingTalk, settings))
        {
            using (var api = gateway.CreateAdminClient())
            {
                var sent = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = card, openConversationId = "cidStop==", cardData = new { title = "Stop?" } });
                await HttpAssert.JsonAsync(sent, HttpStatusCode.Created);
            }

            var clients = Enumerable.Range(1, 6).Select(client => Task.Run(async () =>
            {
                using var http = gateway.CreateClient();
                for (var n = 1; ; n++)
                {
                    var voter = $"c{client}-{n}";
                    using var vote = DingTalkCallback.Signed(DingTalkCallback.Body(card, voter, new { action = "vote", option = n % 2 == 0 ? "a" : "b" }), GatewayFactory.ApiSecret);
                    try
                    {
                        using var response = await http.SendAsync(vote);
                        Assert.Equal(HttpStatusCode.OK, response.StatusCode); // never a 5xx, before the stop or in it
                        answered.Add(voter);
                        if (answered.Count >= 40)
                        {
                            enough.TrySetResult();
                        }
                    }
                    catch (HttpRequestException) when (signalled.Task.IsCompleted)
                    {
                        return; // refused, or the connection closed under it: the gateway no longer takes clicks
                    }
                    catch (TaskCanceledException)
                    {
                        // A click left unanswered (HttpClient's 30 s) is what a stop must not do: say which, and when.
                        Assert.Fail($"vote {voter} had no answer within {http.Timeout.TotalSeconds} s, sent {(signalled.Task.IsCompleted ? "after" : "before")} the SIGTERM; exited: {gateway.HasExited}");
                    }
                }
            })).ToList();

            await enough.Task.WaitAsync(Patience);
            signalled.TrySetResult(); // before the signal: the gateway may close a client's connection before `kill` has returned
            await gateway.SendSignalAsync("TERM");

            Assert.Equal(0, await gateway.WaitForExitAsync(Patience));
            afterExit?.Invoke(); // before the restart, whose own files the test's end kills it with
            await Task.WhenAll(clients).WaitAsync(Patience);
            Assert.Contains("Application is shutting down", gateway.Output, StringComparison.Ordinal);
            var stopped = Assert.Single(gateway.Output.Split('\n'), line => line.Contains("\"Id\":1112", StringComparison.Ordinal)); // the stop's last line: how long, what it left
            Assert.Matches("Stopped \\d+ ms after the stop began: (nothing left undone|left undone: )", stopped);
            Assert.DoesNotContain("Exception", gateway.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("\"@l\":\"Error\"", gateway.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("\"@l\":\"Fatal\"", gateway.Output, StringComparison.Ordinal);
        }

        // A new process starts at once on the same database (the file's lock, the replica's leases let go), finds every
        // answered vote and no other, and sends the card everyone sees what the stop left pending.
        await using var restarted = await GatewayProcess.StartAsync(_dingTalk, settings);
        var expected = answered.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var admin = restarted.CreateAdminClient();
        var stored = await admin.GetFromJsonAsync<JsonElement>($"/api/cards/{card}");
        Assert.Equal(expected, stored.GetProperty("card").GetProperty("publicData").GetProperty("total").GetString());
        await Eventually.TrueAsync(() => _dingTalk.State.FindCard(card)?.CardData.GetValueOrDefault("total") == expected, $"the card everyone sees showing all {expected} votes");
    }

    private static Dictionary<string, string?> Settings(Dictionary<string, string?> storage)
    {
        storage["Gateway:Outbox:PollInterval"] = "00:00:00.050";
        storage["Gateway:Callbacks:HandlerBudget"] = "00:00:10"; // counting is the subject here, not the budget
        return storage;
    }
}
