using DingTalk.CardGateway.Storage.Sql;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>
/// The handler-state names a PostgreSQL claim reads along: each once, at most <see cref="CardStateNames.Most"/>, none lost
/// to a race, and none a handler stopped reading kept for good.
/// </summary>
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

    [Fact]
    public void A_name_no_handler_read_in_the_last_claims_is_forgotten_and_one_still_read_is_kept()
    {
        var names = new CardStateNames();
        names.Seen("poll.tally");
        names.Seen("retired.state"); // its handler is gone, or its cards are no longer sent

        for (var claim = 1; claim <= CardStateNames.ForgetAfter; claim++)
        {
            Assert.Equal(["poll.tally", "retired.state"], names.ForClaim());
            if (claim % 100 == 0)
            {
                names.Seen("poll.tally"); // read with some claims: rarely, but within the last ForgetAfter
            }
        }

        Assert.Equal(["poll.tally"], names.ForClaim());
        Assert.Equal(["poll.tally"], names.Names);
    }

    [Fact]
    public void A_forgotten_name_read_again_is_learned_again()
    {
        var names = new CardStateNames(forgetAfter: 3);
        names.Seen("poll.tally");
        for (var claim = 0; claim < 4; claim++)
        {
            names.ForClaim();
        }

        Assert.Empty(names.Names);
        names.Seen("poll.tally");

        Assert.Equal(["poll.tally"], names.ForClaim());
    }

    [Fact]
    public void The_place_of_a_forgotten_name_is_free_for_a_new_one()
    {
        var names = new CardStateNames(forgetAfter: 3);
        for (var i = 0; i < CardStateNames.Most; i++)
        {
            names.Seen($"old-{i}");
        }

        names.Seen("new.state");
        Assert.DoesNotContain("new.state", names.Names); // full

        for (var claim = 0; claim < 4; claim++)
        {
            names.ForClaim();
        }

        names.Seen("new.state");
        Assert.Equal(["new.state"], names.ForClaim());
    }
}
