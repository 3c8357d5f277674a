using DingTalk.CardGateway.Handlers.Poll;

namespace DingTalk.CardGateway.Tests.Handlers;

public class PollTallyTests
{
    [Fact]
    public void Vote_from_same_user_replaces_earlier_vote_and_the_emptied_option_stays_at_zero()
    {
        var tally = PollTally.Empty.Move(null, "A").Move(null, "A").Move("A", "B").Move("A", "B");

        var shown = tally.Tallies();

        Assert.Equal((2, 0, 2), (shown["total"].GetInt32(), shown["votes_A"].GetInt32(), shown["votes_B"].GetInt32()));
    }

    [Fact]
    public void Moves_of_different_voters_give_the_same_counts_in_any_order()
    {
        var oneWay = PollTally.Empty.Move(null, "A").Move(null, "B").Move("A", "C");
        var otherWay = PollTally.Empty.Move(null, "B").Move(null, "A").Move("A", "C");

        Assert.Equal(oneWay.Tallies().OrderBy(p => p.Key).Select(p => (p.Key, p.Value.GetRawText())), otherWay.Tallies().OrderBy(p => p.Key).Select(p => (p.Key, p.Value.GetRawText())));
    }

    [Fact]
    public void A_tally_reads_back_from_its_stored_json_with_its_counts()
    {
        var tally = PollTally.Empty.Move(null, "A").Move(null, "B").Move("A", "B");
        var json = System.Text.Json.JsonSerializer.Serialize(tally, DingTalk.CardGateway.Hosting.GatewayJson.Options);

        var read = System.Text.Json.JsonSerializer.Deserialize<PollTally>(json, DingTalk.CardGateway.Hosting.GatewayJson.Options)!;

        Assert.Equal("""{"total":2,"counts":{"A":0,"B":2}}""", json);
        Assert.Equal((2, 0, 2), (read.Total, read.Counts["A"], read.Counts["B"]));
        Assert.Equal(3, read.Move(null, "A").Total); // and moves on from there
    }

    [Fact]
    public void The_summary_a_robot_card_shows_lists_every_option_ever_chosen_and_says_voter_for_one()
    {
        Assert.Equal("**1 voter** · A: 1", PollTally.Empty.Move(null, "A").Summary());
        Assert.Equal("**2 voters** · A: 0 · B: 2", PollTally.Empty.Move(null, "A").Move(null, "B").Move("A", "B").Summary());
        Assert.Equal("**0 voters**", PollTally.Empty.Summary());
    }
}
