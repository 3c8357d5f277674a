using System.Globalization;
using System.Text;
using Serilog.Core;
using Serilog.Events;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// In front of the text console: a value a caller sent (a user id, a card id, an action, a path) is written as it came,
/// so a line break in it would start a line of its own that reads as another event, and a terminal escape
/// (<c>ESC[…</c>) would colour or rewrite what the operator sees. Every control character in a string property is
/// written as an escape (<c>\r</c>, <c>\n</c>, <c>\u001b</c>) instead, and so is every one in an exception's message
/// (<see cref="EscapedException"/>), which may quote such a value or DingTalk's words; its stack trace keeps its lines.
/// JSON output needs none of this: its formatter escapes them.
/// </summary>
public sealed class ControlCharacterEscapingSink(ILogEventSink inner) : ILogEventSink, IDisposable, IAsyncDisposable
{
    public void Emit(LogEvent logEvent)
    {
        // Almost every event has nothing to escape: it goes on as it is, without a copy of its properties.
        var escapeProperties = logEvent.Properties.Values.Any(NeedsEscaping);
        var exception = logEvent.Exception is { } thrown ? EscapedException.For(thrown) : null;
        inner.Emit(escapeProperties || !ReferenceEquals(exception, logEvent.Exception)
            ? new LogEvent(logEvent.Timestamp, logEvent.Level, exception, logEvent.MessageTemplate,
                logEvent.Properties.Select(p => new LogEventProperty(p.Key, escapeProperties ? Escape(p.Value) : p.Value)), logEvent.TraceId ?? default, logEvent.SpanId ?? default)
            : logEvent);
    }

    private static bool NeedsEscaping(LogEventPropertyValue value) => value switch
    {
        ScalarValue { Value: string s } => NeedsEscaping(s),
        SequenceValue seq => seq.Elements.Any(NeedsEscaping),
        StructureValue structure => structure.Properties.Any(p => NeedsEscaping(p.Value)),
        DictionaryValue dict => dict.Elements.Any(e => NeedsEscaping(e.Key) || NeedsEscaping(e.Value)),
        _ => false,
    };

    private static LogEventPropertyValue Escape(LogEventPropertyValue value) => value switch
    {
        ScalarValue { Value: string s } when s.Any(IsBreaking) => new ScalarValue(Escape(s)),
        SequenceValue seq => new SequenceValue(seq.Elements.Select(Escape)),
        StructureValue structure => new StructureValue(structure.Properties.Select(p => new LogEventProperty(p.Name, Escape(p.Value))), structure.TypeTag),
        DictionaryValue dict => new DictionaryValue(dict.Elements.Select(e => new KeyValuePair<ScalarValue, LogEventPropertyValue>((ScalarValue)Escape(e.Key), Escape(e.Value)))),
        _ => value,
    };

    internal static bool NeedsEscaping(string s) => s.Any(IsBreaking);

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
