using DingTalk.CardGateway.Storage.Sql;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// A background loop's failure that comes back at every pass while its cause lasts (a full disk, a database away): said
/// the first time, counted after, and its end said once — not an error line with a stack trace at every pass. One loop's,
/// used from that loop alone.
/// </summary>
public sealed class RepeatedFailure
{
    private int _count;

    /// <summary>Counts a failure: true for the first of a run of them, the one to say.</summary>
    public bool Failed() => _count++ == 0;

    /// <summary>A pass went through: how many failed before it (0 when none did, nothing to say).</summary>
    public int Ended()
    {
        var count = _count;
        _count = 0;
        return count;
    }

    /// <summary>
    /// The stack trace to log with <paramref name="exception"/>: none for the database's own refusal, whose words say it all
    /// (<see cref="SchemaMigrator.Describe"/>); the exception itself for anything else, a fault of the gateway's.
    /// </summary>
    public static Exception? StackWorthLogging(Exception exception) => StorageFailure.Of(exception) is null ? exception : null;
}
