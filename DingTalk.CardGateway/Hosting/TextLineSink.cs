using System.Globalization;
using Serilog.Core;
using Serilog.Events;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// In front of the text console: what <see cref="LoggingExtensions.TextTemplate"/> writes only when the event has it,
/// as text with its space before it — the event id after the level (<c>[09:17:45 WRN 3101]</c>, as the README names
/// events), the correlation id after the message — so a line without one has no empty slot, no trailing space.
/// An output template has no conditionals; these two properties are the text console's alone.
/// </summary>
public sealed class TextLineSink(ILogEventSink inner) : ILogEventSink, IDisposable, IAsyncDisposable
{
    internal const string EventIdText = "EventIdText";
    internal const string CorrelationIdText = "CorrelationIdText";

    public void Emit(LogEvent logEvent)
    {
        var eventId = logEvent.Properties.TryGetValue("EventId", out var id) && id is StructureValue structure
            && structure.Properties.FirstOrDefault(p => p.Name == "Id")?.Value is ScalarValue { Value: int number and not 0 }
            ? number : (int?)null;
        var correlationId = logEvent.Properties.TryGetValue("CorrelationId", out var correlation) && correlation is ScalarValue { Value: string { Length: > 0 } value }
            ? value : null;
        if (eventId is null && correlationId is null)
        {
            inner.Emit(logEvent);
            return;
        }

        // A copy: the event itself goes to every sink, and these belong to none but this one.
        var properties = logEvent.Properties.Select(p => new LogEventProperty(p.Key, p.Value)).ToList();
        if (eventId is { } shown)
        {
            properties.Add(new LogEventProperty(EventIdText, new ScalarValue(" " + shown.ToString(CultureInfo.InvariantCulture))));
        }

        if (correlationId is not null)
        {
            properties.Add(new LogEventProperty(CorrelationIdText, new ScalarValue(" " + correlationId)));
        }

        inner.Emit(new LogEvent(logEvent.Timestamp, logEvent.Level, logEvent.Exception, logEvent.MessageTemplate, properties, logEvent.TraceId ?? default, logEvent.SpanId ?? default));
    }

    public void Dispose() => (inner as IDisposable)?.Dispose();

    public ValueTask DisposeAsync() => inner is IAsyncDisposable async ? async.DisposeAsync() : ValueTask.CompletedTask;
}
