using System.Globalization;
using System.Text;
using Serilog.Core;
using Serilog.Events;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// In front of the text console: a value a caller sent (a user id, a card id, an action, a path) is written as it came,
/// so a line break in it would start a line of its own that reads as another event, and a terminal escape
/// (<c>ESC[…</c>) would colour or rewrite what the operator sees. Every control character in a string property is
/// written as an escape (<c>\r</c>, <c>\n</c>, <c>\u001b</c>) instead. JSON output needs none of this: its
/// formatter escapes them.
/// </summary>
public sealed class ControlCharacterEscapingSink(ILogEventSink inner) : ILogEventSink, IDisposable, IAsyncDisposable
{
    public void Emit(LogEvent logEvent)
    {
        var escaped = logEvent.Properties.ToDictionary(p => p.Key, p => Escape(p.Value));
        inner.Emit(escaped.Any(p => !ReferenceEquals(p.Value, logEvent.Properties[p.Key]))
            ? new LogEvent(logEvent.Timestamp, logEvent.Level, logEvent.Exception, logEvent.MessageTemplate,
                escaped.Select(p => new LogEventProperty(p.Key, p.Value)), logEvent.TraceId ?? default, logEvent.SpanId ?? default)
            : logEvent);
    }

    private static LogEventPropertyValue Escape(LogEventPropertyValue value) => value switch
    {
        ScalarValue { Value: string s } when s.Any(IsBreaking) => new ScalarValue(Escape(s)),
        SequenceValue seq => new SequenceValue(seq.Elements.Select(Escape)),
        StructureValue structure => new StructureValue(structure.Properties.Select(p => new LogEventProperty(p.Name, Escape(p.Value))), structure.TypeTag),
        DictionaryValue dict => new DictionaryValue(dict.Elements.Select(e => new KeyValuePair<ScalarValue, LogEventPropertyValue>((ScalarValue)Escape(e.Key), Escape(e.Value)))),
        _ => value,
    };

    internal static string Escape(string s)
    {
        var escaped = new StringBuilder(s.Length + 8);
        foreach (var c in s)
        {
            _ = c switch
            {
                '\r' => escaped.Append(@"\r"),
                '\n' => escaped.Append(@"\n"),
                '\t' => escaped.Append(@"\t"),
                _ when IsBreaking(c) => escaped.Append(CultureInfo.InvariantCulture, $@"\u{(int)c:x4}"),
                _ => escaped.Append(c),
            };
        }

        return escaped.ToString();
    }

    /// <summary>C0 and C1 controls (ESC, CSI, NEL…), DEL, and Unicode's line and paragraph separators.</summary>
    private static bool IsBreaking(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';

    public void Dispose() => (inner as IDisposable)?.Dispose();

    public ValueTask DisposeAsync() => inner is IAsyncDisposable async ? async.DisposeAsync() : ValueTask.CompletedTask;
}
