using System.Globalization;
using DingTalk.CardGateway.Hosting;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Display;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>Log events as the gateway's text console writes them: through the sinks in front of it (<see cref="LoggingExtensions.ForTextConsole"/>), with its output template.</summary>
public static class TextLog
{
    public static string Render(IEnumerable<LogEvent> events)
    {
        var formatter = new MessageTemplateTextFormatter(LoggingExtensions.TextTemplate, CultureInfo.InvariantCulture);
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        var sink = LoggingExtensions.ForTextConsole(new Written(e => formatter.Format(e, writer)));
        foreach (var logEvent in events)
        {
            sink.Emit(logEvent);
        }

        return writer.ToString();
    }

    private sealed class Written(Action<LogEvent> write) : ILogEventSink
    {
        public void Emit(LogEvent logEvent) => write(logEvent);
    }
}
