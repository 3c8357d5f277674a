namespace DingTalk.CardGateway.Tests.Storage.Chaos;

/// <summary>How one step's click reaches the gateway.</summary>
internal enum ChaosSpread
{
    /// <summary>Sent once, to one replica.</summary>
    Once,

    /// <summary>The same delivery to two replicas at once (DingTalk's retry landing on the other one).</summary>
    BothReplicas,

    /// <summary>The same delivery twice at once to one replica.</summary>
    TwiceToOne,
}

/// <summary>One click of a user's sequence, and an older click of theirs DingTalk delivers again after it (if any).</summary>
internal sealed record ChaosStep(ChaosDelivery Click, int Replica, ChaosSpread Spread, ChaosDelivery? StaleRedelivery, int PauseMs);

/// <summary>A user's clicks, sent one after the other: each is answered before the next leaves, as a person clicks.</summary>
internal sealed record ChaosUser(string Id, int StartMs, IReadOnlyList<ChaosStep> Steps);

/// <summary>
/// The scenario, all drawn from one seed: poll voters who change their minds, approvers racing approve against reject, and
/// how each click is spread over the replicas. The seed fixes the script; the threads still interleave as they will.
/// </summary>
internal sealed record ChaosPlan(int Seed, IReadOnlyList<string> Polls, string Approval, IReadOnlyList<ChaosUser> Users)
{
    public const string SeedVariable = "CARDGATEWAY_CHAOS_SEED";

    private static readonly string[] Options = ["a", "b", "c"];

    /// <summary><c>CARDGATEWAY_CHAOS_SEED</c> to replay a failure, else <paramref name="fallback"/>.</summary>
    public static int SeedOr(int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), System.Globalization.CultureInfo.InvariantCulture, out var seed) ? seed : fallback;

    public static ChaosPlan Create(int seed, int replicas, int voters = 70, int approvers = 10, int polls = 5)
    {
        var random = new Random(seed);
        var pollIds = Enumerable.Range(1, polls).Select(i => $"chaos-poll-{i}").ToList();
        const string approval = "chaos-approval";
        var users = new List<ChaosUser>();
        for (var v = 1; v <= voters; v++)
        {
            var user = $"voter{v}";
            var cards = pollIds.OrderBy(_ => random.Next()).Take(random.Next(1, 3)).ToList();
            var clicks = new List<ChaosDelivery>();
            var steps = new List<ChaosStep>();
            for (var s = random.Next(1, 7); s > 0; s--)
            {
                var click = new ChaosDelivery(cards[random.Next(cards.Count)], user, "vote", Options[random.Next(Options.Length)]);
                var stale = clicks.Count > 0 && random.NextDouble() < 0.15 ? clicks[random.Next(clicks.Count)] : null;
                steps.Add(new ChaosStep(click, random.Next(replicas), Spread(random, replicas), stale, random.Next(0, 500)));
                clicks.Add(click);
            }

            users.Add(new ChaosUser(user, random.Next(0, 5000), steps));
        }

        for (var a = 1; a <= approvers; a++)
        {
            var user = $"approver{a}";
            var action = random.Next(2) == 0 ? "approve" : "reject";
            var steps = Enumerable.Range(0, random.Next(1, 4))
                .Select(_ => new ChaosStep(new ChaosDelivery(approval, user, action, null), random.Next(replicas), Spread(random, replicas), null, random.Next(0, 300)))
                .ToList();
            users.Add(new ChaosUser(user, random.Next(0, 5000), steps));
        }

        return new ChaosPlan(seed, pollIds, approval, users);
    }

    /// <summary>Every distinct click of the plan (a redelivery is not another one).</summary>
    public IEnumerable<ChaosDelivery> Clicks => Users.SelectMany(u => u.Steps).Select(s => s.Click);

    /// <summary>Sends the plan makes if nothing is lost: what the kill is timed against.</summary>
    public int PlannedSends => Users.SelectMany(u => u.Steps).Sum(s => (s.Spread == ChaosSpread.Once ? 1 : 2) + (s.StaleRedelivery is null ? 0 : 1));

    /// <summary>Each voter's last option on <paramref name="poll"/>: what the poll must count.</summary>
    public IReadOnlyDictionary<string, string> LastVotes(string poll) =>
        Users.SelectMany(u => u.Steps).Select(s => s.Click).Where(c => c.Card == poll)
            .GroupBy(c => c.User).ToDictionary(g => g.Key, g => g.Last().Option!, StringComparer.Ordinal);

    /// <summary>The options anyone ever chose on <paramref name="poll"/>: the tally lists each, at zero when emptied.</summary>
    public IReadOnlySet<string> OptionsEverChosen(string poll) =>
        Clicks.Where(c => c.Card == poll).Select(c => c.Option!).ToHashSet(StringComparer.Ordinal);

    private static ChaosSpread Spread(Random random, int replicas) => random.NextDouble() switch
    {
        < 0.12 when replicas > 1 => ChaosSpread.BothReplicas,
        < 0.24 => ChaosSpread.TwiceToOne,
        _ => ChaosSpread.Once,
    };
}
