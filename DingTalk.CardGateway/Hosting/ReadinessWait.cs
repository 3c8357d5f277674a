using System.Globalization;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// How long a readiness check waits on a dependency before answering with what it knows. Kubernetes gives a probe 1 s
/// by default (<c>timeoutSeconds</c>) and records a probe that times out with no reason; a check that awaited a DingTalk
/// or a database that black-holes packets took as long as their own timeouts (the token call's retries, Npgsql's connect
/// timeout). The wait counts from when the call began, so probes that find one under way for longer answer at once.
/// </summary>
public static class ReadinessWait
{
    public static readonly TimeSpan Bound = TimeSpan.FromMilliseconds(500);

    /// <summary>Whether <paramref name="call"/>, begun at <paramref name="startedAt"/> (a timestamp of <paramref name="clock"/>), has ended: waited for until <see cref="Bound"/> after it began, no longer.</summary>
    public static async Task<bool> EndedAsync(Task call, long startedAt, TimeProvider clock, CancellationToken cancellationToken)
    {
        var left = Bound - clock.GetElapsedTime(startedAt);
        if (!call.IsCompleted && left > TimeSpan.Zero)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            await Task.WhenAny(call, Task.Delay(left, clock, stop.Token)); // never throws: the call's failure is its owner's to say
            await stop.CancelAsync();
            cancellationToken.ThrowIfCancellationRequested();
        }

        return call.IsCompleted;
    }

    /// <summary>How long a call has been under way, for a reason: <c>"0.5 s"</c>, <c>"12 s"</c>.</summary>
    public static string Since(long startedAt, TimeProvider clock)
    {
        var seconds = clock.GetElapsedTime(startedAt).TotalSeconds;
        return (seconds < 10 ? seconds.ToString("0.#", CultureInfo.InvariantCulture) : seconds.ToString("0", CultureInfo.InvariantCulture)) + " s";
    }
}
