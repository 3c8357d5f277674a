using System.Net;
using System.Net.Http.Json;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// The readable text log (<c>Gateway:LogFormat=Text</c>, the default in Development) as a real process writes it to its
/// console: what callers send (a user id, a card id, an action, a path) and what DingTalk answers is logged, and must not
/// write lines or colours of its own there.
/// </summary>
public sealed class TextLogTests : IAsyncLifetime
{
    private const string Forged = "[12:00:00 ERR] DingTalk.CardGateway.Forged: a line nobody logged";
    private FakeDingTalk _dingTalk = null!;

    public async Task InitializeAsync() => _dingTalk = await FakeDingTalk.StartAsync();

    public async Task DisposeAsync() => await _dingTalk.DisposeAsync();

    [Fact]
    public Task Line_breaks_and_terminal_escapes_a_caller_sends_cannot_forge_a_line_or_a_colour_in_the_text_log() =>
        OnTextLoggingGatewayAsync(async gateway =>
        {
            using var client = gateway.CreateClient();

            // An action no handler claims is logged with the action and the card as the click named them.
            var click = CardClick.Create(
                "log-card\r\n" + Forged, "u1\n" + Forged, new { action = "close\r\n" + Forged + "\u001b[31m" }, GatewayFactory.ApiSecret);
            var answer = await client.SendAsync(click);
            answer.EnsureSuccessStatusCode();
            // The request log names the path, decoded (not a health probe's, which is logged at Debug).
            await client.GetAsync("/no-such-page%0D%0A" + Uri.EscapeDataString(Forged));

            await Eventually.TrueAsync(() => gateway.Output.Contains("No handler for action", StringComparison.Ordinal), "the click logged");
            await Eventually.TrueAsync(() => gateway.Output.Contains("/no-such-page", StringComparison.Ordinal), "the request logged");
            var lines = NothingForged(gateway.Output);
            Assert.DoesNotContain('\r', gateway.Output);
            // Still there to read, escaped as JSON would: the action, the card and the path as they came.
            Assert.Contains(lines, l => l.Contains(@"No handler for action 'close\r\n[12:00:00 ERR]", StringComparison.Ordinal) && l.Contains(@"nobody logged\u001b[31m'", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains(@"(card log-card\r\n[12:00:00 ERR]", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains(@"GET /no-such-page\r\n[12:00:00 ERR]", StringComparison.Ordinal));
        });

    /// <summary>
    /// An exception's message is text from outside too: DingTalk refusing a typed frame with a message of its own ends the
    /// typing with error 3105 and the refusal's exception, whose message quotes DingTalk's. Its stack trace still reads one
    /// frame a line.
    /// </summary>
    [Fact]
    public Task An_exception_message_quoting_DingTalk_cannot_forge_a_line_or_a_colour_in_the_text_log_and_its_stack_keeps_its_lines() =>
        OnTextLoggingGatewayAsync(async gateway =>
        {
            const string card = "textlog-assistant";
            using (var api = gateway.CreateAdminClient())
            {
                var sent = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.assistant", outTrackId = card, openConversationId = "cidTextLog==", cardData = new { content = "" } });
                await HttpAssert.JsonAsync(sent, HttpStatusCode.Created);
            }

            _dingTalk.State.FailNext(HttpMethod.Put, "/v1.0/card/streaming", 400, "param.invalid", "frame refused\r\n" + Forged + "\u001b[31m", bodyContains: card);
            using var client = gateway.CreateClient();
            using var click = DingTalkCallback.Signed(DingTalkCallback.Body(card, "u1", new { action = "ask", question = "hello" }), GatewayFactory.ApiSecret);
            (await client.SendAsync(click)).EnsureSuccessStatusCode();

            await Eventually.TrueAsync(() => gateway.Output.Contains("typing stopped", StringComparison.Ordinal), "the failed typing logged");
            await Eventually.TrueAsync(() => gateway.Output.Contains("   at ", StringComparison.Ordinal), "its stack trace written");
            var lines = NothingForged(gateway.Output);
            Assert.DoesNotContain('\r', gateway.Output);
            // The exception's type and message on one line, DingTalk's words escaped; then its stack, a frame a line.
            var refused = Assert.Single(lines, l => l.StartsWith("DingTalk.CardGateway.Cards.DingTalkApiException: DingTalk answered 400 param.invalid: frame refused", StringComparison.Ordinal));
            Assert.Contains(@"frame refused\r\n[12:00:00 ERR] DingTalk.CardGateway.Forged: a line nobody logged\u001b[31m", refused, StringComparison.Ordinal);
            var stack = lines.SkipWhile(l => l != refused).Skip(1).TakeWhile(l => l.StartsWith("   ", StringComparison.Ordinal)).ToList();
            Assert.True(stack.Count >= 2, "a stack of several lines after the message:\n" + gateway.Output);
            Assert.All(stack.Where(l => !l.StartsWith("   ---", StringComparison.Ordinal)), l => Assert.Matches(@"^   at \S", l));
        });

    /// <summary>
    /// A handler's exception may quote what the click sent: <c>int.Parse</c> of a param names the text it could not read.
    /// The gateway in process, its events written by the text console's sink and template.
    /// </summary>
    [Fact]
    public async Task A_handler_exception_quoting_a_clicks_params_cannot_forge_a_line_or_a_colour_in_the_text_log()
    {
        await using var factory = new GatewayFactory(_dingTalk);
        await using var app = factory.WithWebHostBuilder(builder => builder.ConfigureServices(
            services => services.AddCardActionHandler<QuantityHandler>(on => on.Action("order"))));
        using var client = app.CreateClient();

        using var click = DingTalkCallback.Signed(
            DingTalkCallback.Body("order-card", "u1", new { action = "order", quantity = "2\r\n" + Forged + "\u001b[31m" }), GatewayFactory.ApiSecret);
        var answer = await HttpAssert.JsonAsync(await client.SendAsync(click), HttpStatusCode.OK);

        Assert.Equal("{}", answer.GetRawText());
        var failed = await Eventually.ValueAsync(() => factory.LogEvents.FirstOrDefault(e => e.Exception is FormatException), "the handler's failure logged");
        var lines = NothingForged(TextLog.Render([failed]));
        Assert.Contains(lines, l => l.StartsWith(@"System.FormatException: The input string '2\r\n[12:00:00 ERR] DingTalk.CardGateway.Forged: a line nobody logged\u001b[31m' was not in a correct format.", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("   at DingTalk.CardGateway.Tests.Hosting.QuantityHandler.HandleAsync(", StringComparison.Ordinal));
    }

    /// <summary>A gateway process of its own writing the text log, on a SQLite file deleted afterwards.</summary>
    private async Task OnTextLoggingGatewayAsync(Func<GatewayProcess, Task> test)
    {
        var database = Path.Combine(Path.GetTempPath(), $"cg-textlog-{Guid.NewGuid():N}.db");
        try
        {
            await using var gateway = await GatewayProcess.StartAsync(_dingTalk, new Dictionary<string, string?>
            {
                ["Gateway:LogFormat"] = "Text",
                ["Gateway:Storage:ConnectionString"] = $"Data Source={database}",
            });
            await test(gateway);
        }
        finally
        {
            SqliteFiles.Delete(database);
        }
    }

    /// <summary>The lines of <paramref name="text"/>, none of them starting as <see cref="Forged"/> does, and no terminal escape among them.</summary>
    private static string[] NothingForged(string text)
    {
        var lines = text.Split('\n');
        Assert.DoesNotContain(lines, l => l.TrimStart('\r').StartsWith("[12:00:00 ERR]", StringComparison.Ordinal));
        Assert.DoesNotContain('\u001b', text);
        return lines;
    }
}
