namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Whether the database takes the gateway's writes: a database can answer every query while refusing to store (a full
/// disk, SQLite's size limit, a PostgreSQL that became read-only), and then every click is answered 503 while a
/// <c>SELECT 1</c> says all is well. The places that meet such a failure say it here (a group commit that failed, a
/// request answered 503, a pass of the outbox dispatcher); <see cref="StorageHealthCheck"/> reports the storage degraded
/// until none has failed for <see cref="Window"/>. A time, not the next commit: a disk nearly full takes a small write
/// (an outbox entry marked sent) between clicks it refuses, and readiness would swing at each.
/// </summary>
public sealed class StorageWrites(TimeProvider clock)
{
    private readonly Lock _gate = new();
    private Failing? _failing;

    /// <summary>How long after the last failed write the storage is still said to be failing.</summary>
    public TimeSpan Window { get; internal set; } = TimeSpan.FromSeconds(30);

    /// <summary>The writes failing within the last <see cref="Window"/>, or null.</summary>
    public Failing? Current
    {
        get
        {
            lock (_gate)
            {
                return _failing is { } failing && clock.GetUtcNow() - failing.Last < Window ? failing : null;
            }
        }
    }

    /// <summary>
    /// A write failed on the database itself, not on what it was given: noted, in the database's words, when
    /// <paramref name="failure"/> is the database answering and refusing. Not a failure that is not the database's, nor a
    /// lost connection (a server restarting, stopped, cut off): that says nothing of whether it takes writes, readiness finds
    /// it unreachable by itself, and a server back from a restart takes writes at once, not "failing" for the next 30 s.
    /// </summary>
    public void Failed(Exception failure)
    {
        if (StorageFailure.Of(failure) is not { } database || StorageFailure.IsConnectionLost(database))
        {
            return;
        }

        var reason = database.Message;
        var now = clock.GetUtcNow();
        lock (_gate)
        {
            _failing = _failing is { } failing && now - failing.Last < Window
                ? failing with { Reason = reason, Last = now, Count = failing.Count + 1 }
                : new Failing(reason, now, now, 1);
        }
    }

    /// <summary>Writes failing: the last one's reason, when the first and the last failed, and how many did.</summary>
    public sealed record Failing(string Reason, DateTimeOffset Since, DateTimeOffset Last, long Count);
}
