using DingTalk.CardGateway.Storage.Sql;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>The handler-state names a PostgreSQL claim reads along: each once, at most <see cref="CardStateNames.Most"/>, none lost to a race.</summary>
public sealed class CardStateNamesTests
{
    [Fact]
    public async Task Names_seen_at_once_from_many_threads_are_each_kept_once_up_to_the_most()
    {
        var names = new CardStateNames();

        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 10; i++)
            {
                names.Seen($"state-{i}"); // every thread sees the same ten names
            }
        })));

        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"state-{i}").Order(), names.Names.Order());

        await Task.WhenAll(Enumerable.Range(10, 20).Select(i => Task.Run(() => names.Seen($"state-{i}"))));
        Assert.Equal(CardStateNames.Most, names.Names.Length);
        Assert.Equal(names.Names.Length, names.Names.Distinct().Count());
    }

    [Fact]
    public void A_name_seen_again_leaves_the_names_handed_out_as_they_were()
    {
        var names = new CardStateNames();
        names.Seen("poll.tally");
        var handedOut = names.Names;

        names.Seen("poll.tally");
        names.Seen("approval.decision");

        Assert.Equal(["poll.tally"], handedOut); // a claim's names never change under it
        Assert.Equal(["poll.tally", "approval.decision"], names.Names);
    }
}
