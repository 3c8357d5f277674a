using System.Collections.Immutable;

namespace DingTalk.CardGateway.Handlers.Poll;

/// <summary>A poll's counts: voters, and votes per option ever chosen (an emptied option stays listed at zero).</summary>
public sealed record PollTally(int Total, ImmutableDictionary<string, int> Counts)
{
    public static PollTally Empty { get; } = new(0, ImmutableDictionary.Create<string, int>(StringComparer.Ordinal));

    /// <summary>
    /// The tally after one voter's ballot goes from <paramref name="from"/> (null: a new voter) to <paramref name="to"/>.
    /// Moves commute, so concurrent voters cannot skew the counts whatever order their moves land in.
    /// </summary>
    public PollTally Move(string? from, string to)
    {
        var counts = from is null ? Counts : Counts.SetItem(from, Counts.GetValueOrDefault(from) - 1);
        return new PollTally(from is null ? Total + 1 : Total, counts.SetItem(to, counts.GetValueOrDefault(to) + 1));
    }

    /// <summary>What everyone's card shows: <c>total</c> voters and <c>votes_&lt;option&gt;</c> for each option.</summary>
    public CardValues Tallies()
    {
        var values = CardValues.Of("total", Total);
        foreach (var (option, count) in Counts)
        {
            values = values.With($"votes_{option}", count);
        }

        return values;
    }
}
