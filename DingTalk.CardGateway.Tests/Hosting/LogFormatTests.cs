using System.Globalization;
using System.Text.Json;
using Serilog.Events;
using Serilog.Parsing;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// One event as each console format writes it: the JSON's message (<c>@m</c>) reads as the text line's, the strings in it
/// unquoted, so a search written from the README's words finds the line in either; the text line shows the event id.
/// </summary>
public class LogFormatTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 29, 9, 17, 45, TimeSpan.Zero);

    [Fact]
    public void The_JSON_message_writes_string_values_as_they_are_and_keeps_them_as_properties()
    {
        var migrated = Event("{Provider} schema migrated to version {Version}", 4001, ("Provider", "Sqlite"), ("Version", 1));
        var registered = Event("Registered card callbacks for route key '{RouteKey}' at {CallbackUrl}", 3201, ("RouteKey", "card-gateway"), ("CallbackUrl", "http://127.0.0.1:5450/dingtalk/callbacks/card"));

        using var json = JsonDocument.Parse(JsonLog.Render(migrated));
        using var other = JsonDocument.Parse(JsonLog.Render(registered));

        Assert.Equal("Sqlite schema migrated to version 1", json.RootElement.GetProperty("@m").GetString());
        Assert.Equal("Registered card callbacks for route key 'card-gateway' at http://127.0.0.1:5450/dingtalk/callbacks/card", other.RootElement.GetProperty("@m").GetString());
        // The properties as they were: typed, the event id, and the template's hash as Serilog's own formatter gives it.
        Assert.Equal("Sqlite", json.RootElement.GetProperty("Provider").GetString());
        Assert.Equal(1, json.RootElement.GetProperty("Version").GetInt32());
        Assert.Equal(4001, json.RootElement.GetProperty("EventId").GetProperty("Id").GetInt32());
        using var serilogs = JsonDocument.Parse(SerilogsOwnJson(migrated));
        Assert.Equal(serilogs.RootElement.GetProperty("@i").GetString(), json.RootElement.GetProperty("@i").GetString());
        Assert.Equal("\"Sqlite\" schema migrated to version 1", serilogs.RootElement.GetProperty("@m").GetString()); // what it wrote before
    }

    [Fact]
    public void The_JSON_message_is_the_text_lines_message()
    {
        var noHandler = Event(
            "No handler for action '{Action}' on template '{TemplateId}' for callback {CallbackId} (card {CardId}, user {UserId}; actionIds {ActionIds})",
            3101,
            ("Action", "close"), ("TemplateId", "tpl.poll"), ("CallbackId", "1795944433668.sx"), ("CardId", "j-1"), ("UserId", "u1"), ("ActionIds", new[] { "a", "b" }));

        using var json = JsonDocument.Parse(JsonLog.Render(noHandler));
        var message = json.RootElement.GetProperty("@m").GetString()!;

        Assert.StartsWith("No handler for action 'close' on template 'tpl.poll' for callback 1795944433668.sx (card j-1, user u1; actionIds ", message, StringComparison.Ordinal);
        Assert.Contains("] DingTalk.CardGateway.Tests: " + message + Environment.NewLine, TextLog.Render([noHandler]), StringComparison.Ordinal);
        Assert.Equal(["a", "b"], json.RootElement.GetProperty("ActionIds").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void A_text_line_shows_the_event_id_after_the_level_and_its_correlation_id_if_any_with_no_trailing_space()
    {
        var withId = Event("No handler for action '{Action}'", 3101, ("Action", "close"), ("CorrelationId", "0HN:1"));
        var bare = new LogEvent(At, LogEventLevel.Information, null, new MessageTemplateParser().Parse("Application started"), [new LogEventProperty("SourceContext", new ScalarValue("Microsoft.Hosting.Lifetime"))]);

        var lines = TextLog.Render([withId, bare]).Split(Environment.NewLine);

        Assert.Equal("[09:17:45 WRN 3101] DingTalk.CardGateway.Tests: No handler for action 'close' 0HN:1", lines[0]);
        Assert.Equal("[09:17:45 INF] Microsoft.Hosting.Lifetime: Application started", lines[1]);
    }

    private static LogEvent Event(string template, int eventId, params (string Name, object Value)[] properties) => new(
        At,
        LogEventLevel.Warning,
        null,
        new MessageTemplateParser().Parse(template),
        properties.Select(p => new LogEventProperty(p.Name, p.Value is string[] items ? new SequenceValue(items.Select(i => new ScalarValue(i))) : new ScalarValue(p.Value)))
            .Append(new LogEventProperty("EventId", new StructureValue([new LogEventProperty("Id", new ScalarValue(eventId)), new LogEventProperty("Name", new ScalarValue("Event"))])))
            .Append(new LogEventProperty("SourceContext", new ScalarValue("DingTalk.CardGateway.Tests"))));

    private static string SerilogsOwnJson(LogEvent e)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        new Serilog.Formatting.Compact.RenderedCompactJsonFormatter().Format(e, writer);
        return writer.ToString();
    }
}
