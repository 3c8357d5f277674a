namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// Counts the callbacks that verified only under one of <c>DingTalk:Callback:PreviousApiSecrets</c>, and lets them be said
/// at most once an hour per secret and kind of callback, with how many there were since: the operator's evidence of
/// whether a previous secret is still in use, without a line per click.
/// </summary>
public sealed class PreviousSecretUse(TimeProvider clock)
{
    /// <summary>The least time between two lines about one previous secret on one kind of callback.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    private readonly Lock _gate = new();
    private readonly Dictionary<(string Kind, int Index), Tally> _tallies = [];

    /// <summary>Counts one callback; when a line is due, how many were counted since the last one (this one included), else null.</summary>
    public long? Count(string kind, int index)
    {
        var now = clock.GetUtcNow();
        lock (_gate)
        {
            if (!_tallies.TryGetValue((kind, index), out var tally))
            {
                _tallies[(kind, index)] = tally = new Tally();
            }

            tally.Unsaid++;
            if (tally.SaidAt is { } saidAt && now - saidAt < Interval)
            {
                return null;
            }

            var unsaid = tally.Unsaid;
            tally.Unsaid = 0;
            tally.SaidAt = now;
            return unsaid;
        }
    }

    private sealed class Tally
    {
        public long Unsaid { get; set; }

        public DateTimeOffset? SaidAt { get; set; }
    }
}
