using System.Collections.Concurrent;
using Serilog.Core;
using Serilog.Events;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>Every log event a gateway wrote, after secret masking: registered as one more Serilog sink.</summary>
public sealed class CapturedLogs : ILogEventSink
{
    private readonly ConcurrentQueue<LogEvent> _events = new();

    public IReadOnlyCollection<LogEvent> Events => _events.ToArray();

    public void Emit(LogEvent logEvent) => _events.Enqueue(logEvent);
}
