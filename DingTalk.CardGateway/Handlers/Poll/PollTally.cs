namespace DingTalk.CardGateway.Handlers.Poll;

/// <summary>A poll's counts: voters, and votes per option ever chosen (an emptied option stays listed at zero).</summary>
/// <remarks>
/// A plain dictionary, copied on each move (a poll has at most <see cref="PollHandler.MaxOptions"/> options): it is
/// read from JSON on every vote, and an immutable one cost as much to deserialize as the vote's SQL.
/// </remarks>
public sealed record PollTally(int Total, IReadOnlyDictionary<string, int> Counts)
{
    public static PollTally Empty { get; } = new(0, new Dictionary<string, int>(StringComparer.Ordinal));

    /// <summary>
    /// The tally after one voter's ballot goes from <paramref name="from"/> (null: a new voter) to <paramref name="to"/>.
    /// Moves commute, so concurrent voters cannot skew the counts whatever order their moves land in.
    /// </summary>
    public PollTally Move(string? from, string to)
    {
        var counts = new Dictionary<string, int>(Counts, StringComparer.Ordinal);
        if (from is not null)
        {
            counts[from] = counts.GetValueOrDefault(from) - 1;
        }

        counts[to] = counts.GetValueOrDefault(to) + 1;
        return new PollTally(from is null ? Total + 1 : Total, counts);
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

    /// <summary>The counts as one markdown line, for a normal robot card's block: <c>**3 voters** · A: 2 · B: 1</c>.</summary>
    public string Summary()
    {
        var line = new System.Text.StringBuilder(Total == 1 ? "**1 voter**" : $"**{Total} voters**");
        foreach (var (option, count) in Counts)
        {
            line.Append(" · ").Append(RobotCardData.EscapeMarkdown(option)).Append(": ").Append(count);
        }

        return line.ToString();
    }
}
