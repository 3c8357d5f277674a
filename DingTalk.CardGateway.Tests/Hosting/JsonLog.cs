using System.Globalization;
using DingTalk.CardGateway.Hosting;
using Serilog.Events;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>A log event as the gateway's JSON console writes it (outside Development, the container).</summary>
public static class JsonLog
{
    public static string Render(LogEvent logEvent)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        LoggingExtensions.JsonFormatter.Format(logEvent, writer);
        return writer.ToString();
    }
}
