using System.Text.Json;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// A click answered <c>{}</c> before its commit is DingTalk's no more: a process dying before the commit would lose it. On
/// SQLite it is kept on disk beside the database until it is committed, and a gateway starting on that database handles
/// what a dead process kept — once.
/// </summary>
public sealed class AnsweredEarlyJournalTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"cg-kept-{Guid.NewGuid():N}.db");
    private readonly string _after = Path.Combine(Path.GetTempPath(), $"cg-kept-after-{Guid.NewGuid():N}.db");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        SqliteFiles.Delete(_database);
        SqliteFiles.Delete(_after);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_click_answered_before_its_commit_is_kept_on_disk_until_it_is_committed()
    {
        var (card, kept, gateway) = await AnsweredEarlyAsync();
        try
        {
            var action = JsonSerializer.Deserialize<CardAction>(kept.Bytes, GatewayJson.Options)!;
            Assert.Equal(card, action.CardId);
            Assert.Equal("u1", action.UserId);

            gateway.Gate.Open("held");
            await Eventually.TrueAsync(async () => (await gateway.HistoryAsync(card)) is [{ Outcome: CallbackOutcome.Overran } recorded] && recorded.CallbackId == action.CallbackId, "the click committed");
            await Eventually.TrueAsync(() => KeptFiles(_database).Length == 0, "its copy on disk deleted once it is committed");
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_click_a_dead_process_kept_is_handled_when_a_gateway_next_starts_on_the_database_and_only_once()
    {
        // What a process answering the click {} leaves on disk, were it killed right then: its copy, and no commit.
        var (card, kept, first) = await AnsweredEarlyAsync();
        first.Gate.Open("held");
        await first.DisposeAsync();
        Directory.CreateDirectory(_after + ".answered-early");
        await File.WriteAllBytesAsync(Path.Combine(_after + ".answered-early", kept.Name), kept.Bytes);

        var started = CallbackGateway.With(Settings(_after));
        await started.InitializeAsync();
        try
        {
            started.Gate.Open("held");
            await Eventually.TrueAsync(async () => (await started.HistoryAsync(card)) is [{ Outcome: CallbackOutcome.Overran }], "the click handled, as one answered early");
            await Eventually.TrueAsync(() => KeptFiles(_after).Length == 0, "its copy deleted");
            Assert.Equal(1, started.Gate.Arrivals("held"));
            Assert.Contains(started.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3138);
            Assert.Contains(started.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3135 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
        }
        finally
        {
            await started.DisposeAsync();
        }

        // The copy found again (its delete lost, say): the click is recorded, so it is not handled twice.
        await File.WriteAllBytesAsync(Path.Combine(_after + ".answered-early", kept.Name), kept.Bytes);
        await LockLetGoAsync(_after);
        var again = CallbackGateway.With(Settings(_after));
        await again.InitializeAsync();
        try
        {
            again.Gate.Open("held");
            await Eventually.TrueAsync(() => KeptFiles(_after).Length == 0, "the copy deleted");
            Assert.Equal(0, again.Gate.Arrivals("held"));
            Assert.Single(await again.HistoryAsync(card));
            Assert.DoesNotContain(again.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3135);
        }
        finally
        {
            await again.DisposeAsync();
        }
    }

    /// <summary>A counting click on a new card, answered <c>{}</c> past its budget while its handler waits at the gate "held"; with the copy the gateway kept of it.</summary>
    private async Task<(string Card, (string Name, byte[] Bytes) Kept, CallbackGateway Gateway)> AnsweredEarlyAsync()
    {
        var gateway = CallbackGateway.With(Settings(_database));
        await gateway.InitializeAsync();
        var card = await gateway.SendCardAsync("tpl.count");
        Assert.Equal("{}", (await gateway.ClickAsync(card, "u1", new { action = "count", gate = "held" }).WaitAsync(Patience)).GetRawText());
        var path = Assert.Single(KeptFiles(_database));
        return (card, (Path.GetFileName(path), await File.ReadAllBytesAsync(path)), gateway);
    }

    /// <summary>
    /// Waits until the gateway just disposed has let go of the database's lock file: its host may still be ending the
    /// update for everyone the recovered click queued as the test's dispose returns.
    /// </summary>
    private static async Task LockLetGoAsync(string database)
    {
        await Eventually.TrueAsync(
            () =>
            {
                try
                {
                    using var probe = new FileStream(database + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                    return true;
                }
                catch (IOException)
                {
                    return false;
                }
            },
            "the first gateway letting go of the database");
    }

    private static string[] KeptFiles(string database) =>
        Directory.Exists(database + ".answered-early") ? Directory.GetFiles(database + ".answered-early", "*.json") : [];

    private static Dictionary<string, string?> Settings(string database) => new()
    {
        ["Gateway:Storage:Provider"] = "Sqlite",
        ["Gateway:Storage:ConnectionString"] = $"Data Source={database}",
        ["Gateway:Callbacks:HandlerBudget"] = "00:00:00.100",
    };
}
