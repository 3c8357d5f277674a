namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Requests the database failed (each answered 503, or a Stream frame left unanswered to be pushed again), said once a run: while a server restarts, stops or is cut off, every
/// click fails the same way — 811 in 22 s with the server stopped, measured — and an error line for each buried what
/// happened. The first of a run is said (error 9003, or warning 5024 for a Stream frame, in the database's words); the rest are counted, and the run's end —
/// a click committed, or readiness finding the database answering — is said once (information 4141, with how many and
/// when).
/// </summary>
public sealed partial class RefusedRequests(TimeProvider clock, ILogger<RefusedRequests> logger)
{
    private readonly Lock _gate = new();
    private Run? _run;
    private volatile bool _open; // read on every commit: a run to end is rare

    /// <summary>A request the database failed: true for the first of a run, the one to say.</summary>
    public bool Failed()
    {
        var now = clock.GetUtcNow();
        lock (_gate)
        {
            if (_run is { } run)
            {
                _run = run with { Count = run.Count + 1, Last = now };
                return false;
            }

            _run = new Run(now, now, 1);
            _open = true;
            return true;
        }
    }

    /// <summary>The database took a request (or answered readiness): ends a run of failures, said once.</summary>
    public void WentThrough()
    {
        if (!_open)
        {
            return;
        }

        Run? ended;
        lock (_gate)
        {
            ended = _run;
            _run = null;
            _open = false;
        }

        if (ended is { } run)
        {
            Log.Back(logger, run.Count, run.Since, run.Last);
        }
    }

    private sealed record Run(DateTimeOffset Since, DateTimeOffset Last, long Count);

    private static partial class Log
    {
        [LoggerMessage(4141, LogLevel.Information, "The database takes requests again: {Count} failed from {Since:HH:mm:ss.fff}Z to {Last:HH:mm:ss.fff}Z, answered 503 (Stream frames: left for DingTalk to push again; the first said in 9003 or 5024, the others counted)")]
        public static partial void Back(ILogger logger, long count, DateTimeOffset since, DateTimeOffset last);
    }
}
