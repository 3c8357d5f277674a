using System.Collections.Immutable;

namespace DingTalk.CardGateway.Handlers.Poll;

/// <summary>One poll's votes: each user's current option, and the count per option ever voted for (zero stays listed).</summary>
public sealed record PollState(ImmutableDictionary<string, string> Votes, ImmutableDictionary<string, int> Counts)
{
    public static PollState Empty { get; } = new(
        ImmutableDictionary.Create<string, string>(StringComparer.Ordinal),
        ImmutableDictionary.Create<string, int>(StringComparer.Ordinal));

    /// <summary>The poll after <paramref name="userId"/> votes <paramref name="option"/>, replacing their earlier vote; unchanged if a new option would exceed <paramref name="maxOptions"/>.</summary>
    public PollState Vote(string userId, string option, int maxOptions)
    {
        var previous = Votes.GetValueOrDefault(userId);
        if (previous == option || (!Counts.ContainsKey(option) && Counts.Count >= maxOptions))
        {
            return this;
        }

        var counts = previous is null ? Counts : Counts.SetItem(previous, Counts[previous] - 1);
        return new PollState(Votes.SetItem(userId, option), counts.SetItem(option, counts.GetValueOrDefault(option) + 1));
    }

    /// <summary>What everyone's card shows: <c>total</c> voters and <c>votes_&lt;option&gt;</c> for each option.</summary>
    public CardValues Tallies()
    {
        var values = CardValues.Of("total", Votes.Count);
        foreach (var (option, count) in Counts)
        {
            values = values.With($"votes_{option}", count);
        }

        return values;
    }
}
