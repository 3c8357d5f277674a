using DingTalk.CardGateway.Hosting;
using Serilog.Core;
using Serilog.Events;
using Serilog.Parsing;

namespace DingTalk.CardGateway.Tests.Hosting;

public class ControlCharacterEscapingSinkTests
{
    private const string Forged = "bad\r\n[12:00:00 ERR] DingTalk.CardGateway.Forged: a line nobody logged\u001b[31m";

    /// <summary>
    /// An exception is written as .NET writes it — type, message, inner exceptions (an aggregate's each), stack — save that
    /// a message's control characters are escaped: the forged line stays inside its message, the frames each on a line.
    /// </summary>
    [Fact]
    public void An_exceptions_messages_inner_and_aggregated_ones_included_are_escaped_and_its_stack_keeps_a_frame_a_line()
    {
        var failed = new AggregateException(
            "all " + Forged,
            Thrown(() => throw new InvalidOperationException("outer " + Forged, Thrown(() => throw new FormatException("inner " + Forged)))),
            Thrown(() => throw new ArgumentException("second " + Forged)));
        var clean = Thrown(() => throw new InvalidOperationException("nothing to escape", Thrown(() => throw new FormatException("nor here"))));
        var written = new List<LogEvent>();
        var sink = new ControlCharacterEscapingSink(new Capturing(written));
        var cleanEvent = Event(clean);

        sink.Emit(Event(failed));
        sink.Emit(cleanEvent);

        var escaped = written[0].Exception!.ToString();
        Assert.Equal(failed.ToString().Replace(Forged, ControlCharacterEscapingSink.Escape(Forged), StringComparison.Ordinal), escaped);
        Assert.DoesNotContain('\u001b', escaped);
        var lines = escaped.Split('\n');
        Assert.All(lines, l => Assert.Matches(@"^(System\.AggregateException: all bad\\r\\n\[12:00:00 ERR\]| ---> |   at \S|   --- End of inner exception stack trace ---$|$)", l));
        Assert.Contains(lines, l => l.StartsWith(@" ---> System.FormatException: inner bad\r\n[12:00:00 ERR] DingTalk.CardGateway.Forged: a line nobody logged\u001b[31m", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith(@" ---> (Inner Exception #1) System.ArgumentException: second bad\r\n", StringComparison.Ordinal));
        Assert.Equal(3, lines.Count(l => l.StartsWith("   at ", StringComparison.Ordinal) && l.Contains(nameof(Thrown) + "(", StringComparison.Ordinal))); // one a thrown exception
        // An exception with nothing to escape (almost every one) goes on as it is, its event not copied.
        Assert.Same(cleanEvent, written[1]);
    }

    private static LogEvent Event(Exception exception) =>
        new(DateTimeOffset.UnixEpoch, LogEventLevel.Error, exception, new MessageTemplateParser().Parse("Failed"), []);

    private static Exception Thrown(Action fail)
    {
        try
        {
            fail();
        }
        catch (Exception e)
        {
            return e;
        }

        throw new InvalidOperationException("did not throw");
    }

    private sealed class Capturing(List<LogEvent> events) : ILogEventSink
    {
        public void Emit(LogEvent logEvent) => events.Add(logEvent);
    }
}
