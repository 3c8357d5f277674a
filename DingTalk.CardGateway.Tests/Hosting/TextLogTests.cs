using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// The readable text log (<c>Gateway:LogFormat=Text</c>, the default in Development) as a real process writes it to its
/// console: what callers send (a user id, a card id, an action, a path) is logged, and must not write lines or colours
/// of its own there.
/// </summary>
public sealed class TextLogTests : IAsyncLifetime
{
    private const string Forged = "[12:00:00 ERR] DingTalk.CardGateway.Forged: a line nobody logged";
    private FakeDingTalk _dingTalk = null!;

    public async Task InitializeAsync() => _dingTalk = await FakeDingTalk.StartAsync();

    public async Task DisposeAsync() => await _dingTalk.DisposeAsync();

    [Fact]
    public async Task Line_breaks_and_terminal_escapes_a_caller_sends_cannot_forge_a_line_or_a_colour_in_the_text_log()
    {
        var database = Path.Combine(Path.GetTempPath(), $"cg-textlog-{Guid.NewGuid():N}.db");
        try
        {
            await using var gateway = await GatewayProcess.StartAsync(_dingTalk, new Dictionary<string, string?>
            {
                ["Gateway:LogFormat"] = "Text",
                ["Gateway:Storage:ConnectionString"] = $"Data Source={database}",
            });
            using var client = gateway.CreateClient();

            // An action no handler claims is logged with the action and the card as the click named them.
            var click = CardClick.Create(
                "log-card\r\n" + Forged, "u1\n" + Forged, new { action = "close\r\n" + Forged + "\u001b[31m" }, GatewayFactory.ApiSecret);
            var answer = await client.SendAsync(click);
            answer.EnsureSuccessStatusCode();
            // The request log names the path, decoded.
            await client.GetAsync("/health/live%0D%0A" + Uri.EscapeDataString(Forged));

            await Eventually.TrueAsync(() => gateway.Output.Contains("No handler for action", StringComparison.Ordinal), "the click logged");
            await Eventually.TrueAsync(() => gateway.Output.Contains("/health/live", StringComparison.Ordinal), "the request logged");
            var lines = gateway.Output.Split('\n');
            Assert.DoesNotContain(lines, l => l.TrimStart('\r').StartsWith("[12:00:00 ERR]", StringComparison.Ordinal));
            Assert.DoesNotContain('\u001b', gateway.Output);
            Assert.DoesNotContain('\r', gateway.Output);
            // Still there to read, escaped as JSON would: the action, the card and the path as they came.
            Assert.Contains(lines, l => l.Contains(@"No handler for action 'close\r\n[12:00:00 ERR]", StringComparison.Ordinal) && l.Contains(@"nobody logged\u001b[31m'", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains(@"(card log-card\r\n[12:00:00 ERR]", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains(@"GET /health/live\r\n[12:00:00 ERR]", StringComparison.Ordinal));
        }
        finally
        {
            SqliteFiles.Delete(database);
        }
    }
}
