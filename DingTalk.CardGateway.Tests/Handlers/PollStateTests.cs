using DingTalk.CardGateway.Handlers.Poll;

namespace DingTalk.CardGateway.Tests.Handlers;

public class PollStateTests
{
    [Fact]
    public void Vote_from_same_user_replaces_earlier_vote_and_the_emptied_option_stays_at_zero()
    {
        var poll = PollState.Empty.Vote("u1", "A", 50).Vote("u2", "A", 50).Vote("u1", "B", 50).Vote("u2", "B", 50);

        var tallies = poll.Tallies();

        Assert.Equal((2, 0, 2), (tallies["total"].GetInt32(), tallies["votes_A"].GetInt32(), tallies["votes_B"].GetInt32()));
    }

    [Fact]
    public void Voting_the_same_option_again_changes_nothing()
    {
        var poll = PollState.Empty.Vote("u1", "A", 50);

        Assert.Same(poll, poll.Vote("u1", "A", 50));
    }

    [Fact]
    public void A_new_option_beyond_the_limit_is_refused()
    {
        var poll = PollState.Empty.Vote("u1", "A", 1);

        Assert.Same(poll, poll.Vote("u2", "B", 1));
        Assert.Equal(2, poll.Vote("u2", "A", 1).Tallies()["total"].GetInt32());
    }
}
