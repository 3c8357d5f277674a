using System.Globalization;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Compact;
using Serilog.Formatting.Display;
using Serilog.Parsing;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// Serilog's rendered compact JSON, except that the message (<c>@m</c>) is the text format's (<c>{Message:lj}</c>):
/// string values as they are, <c>Sqlite schema migrated to version 1</c>, where Serilog's own writes
/// <c>\"Sqlite\" schema…</c>; so a search or an alert written from one format's words finds the other's lines. The
/// properties are written as they are, typed, and <c>@i</c> is still the hash of the event's template.
/// </summary>
public sealed class LiteralMessageJsonFormatter : ITextFormatter
{
    private static readonly MessageTemplateTextFormatter Message = new("{Message:lj}", CultureInfo.InvariantCulture);
    private readonly RenderedCompactJsonFormatter _json = new();

    public void Format(LogEvent logEvent, TextWriter output)
    {
        using var message = new StringWriter(CultureInfo.InvariantCulture);
        Message.Format(logEvent, message);

        // The template's own text (for @i) with the rendered message as its one token, which is written as @m unchanged.
        var rendered = new MessageTemplate(logEvent.MessageTemplate.Text, [new TextToken(message.ToString())]);
        _json.Format(
            new LogEvent(logEvent.Timestamp, logEvent.Level, logEvent.Exception, rendered,
                logEvent.Properties.Select(p => new LogEventProperty(p.Key, p.Value)), logEvent.TraceId ?? default, logEvent.SpanId ?? default),
            output);
    }
}
