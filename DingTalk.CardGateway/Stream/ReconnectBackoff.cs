namespace DingTalk.CardGateway.Stream;

/// <summary>
/// Capped exponential backoff with jitter, so a DingTalk outage does not meet a reconnect storm: the n-th failure in
/// a row waits a random time between half and all of <c>min·2^(n-1)</c>, capped at <c>max</c>.
/// </summary>
public sealed class ReconnectBackoff(TimeSpan min, TimeSpan max, Func<double>? random = null)
{
    private readonly Func<double> _random = random ?? Random.Shared.NextDouble;

    /// <summary>Failures since the last <see cref="Reset"/>.</summary>
    public int Failures { get; private set; }

    /// <summary>Counts one more failure and says how long to wait before the next attempt.</summary>
    public TimeSpan Next()
    {
        Failures++;
        var ceiling = Math.Min(max.Ticks, min.Ticks * Math.Pow(2, Math.Min(Failures - 1, 30)));
        return TimeSpan.FromTicks((long)(ceiling * (0.5 + (0.5 * _random()))));
    }

    /// <summary>After a connection that worked: the next failure starts again from <c>min</c>.</summary>
    public void Reset() => Failures = 0;
}
