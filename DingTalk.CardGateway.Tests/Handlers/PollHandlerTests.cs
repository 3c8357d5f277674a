using DingTalk.CardGateway.Tests.Callbacks;

namespace DingTalk.CardGateway.Tests.Handlers;

/// <summary>The shipped poll, end to end: a card sent through /api/cards, votes posted as DingTalk would, tallies at the fake.</summary>
[Collection(CallbackGatewayCollection.Name)]
public class PollHandlerTests(CallbackGateway gateway)
{
    [Fact]
    public async Task Each_voter_sees_their_own_vote_and_everyone_sees_the_tallies()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.poll", new { question = "Lunch?", total = 0 });

        var first = await gateway.ClickAsync(outTrackId, "u1", new { action = "vote", option = "noodles" });
        await gateway.ClickAsync(outTrackId, "u2", new { action = "vote", option = "rice" });
        await gateway.ClickAsync(outTrackId, "u3", new { action = "vote", option = "noodles" });

        Assert.Equal(
            """{"cardUpdateOptions":{"updateCardDataByKey":true,"updatePrivateDataByKey":true},"userPrivateData":{"cardParamMap":{"myVote":"noodles"}}}""",
            first.GetRawText());
        await Eventually.TrueAsync(() => Tallies(outTrackId) == ("3", "2", "1"), "total 3, noodles 2, rice 1 on everyone's card");
        Assert.Equal("Lunch?", gateway.DingTalk.State.FindCard(outTrackId)!.CardData["question"]);
    }

    [Fact]
    public async Task A_later_vote_from_the_same_user_replaces_the_earlier_one()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.poll");
        await gateway.ClickAsync(outTrackId, "u1", new { action = "vote", option = "noodles" });
        await gateway.ClickAsync(outTrackId, "u2", new { action = "vote", option = "noodles" });

        var changed = await gateway.ClickAsync(outTrackId, "u1", new { action = "vote", option = "rice" });

        Assert.Equal("rice", changed.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myVote").GetString());
        await Eventually.TrueAsync(() => Tallies(outTrackId) == ("2", "1", "1"), "u1's vote moved from noodles to rice");
    }

    [Fact]
    public async Task A_numeric_option_counts_like_any_other()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.poll");

        var answer = await gateway.ClickAsync(outTrackId, "u1", new { action = "vote", option = 3 });

        Assert.Equal("3", answer.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myVote").GetString());
        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(outTrackId)?.CardData.GetValueOrDefault("votes_3") == "1", "votes_3 = 1");
    }

    [Fact]
    public async Task A_vote_without_an_option_changes_nothing()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.poll");

        var answer = await gateway.ClickAsync(outTrackId, "u1", new { action = "vote" });

        Assert.Equal("{}", answer.GetRawText());
    }

    private (string?, string?, string?) Tallies(string outTrackId)
    {
        var data = gateway.DingTalk.State.FindCard(outTrackId)?.CardData;
        return (data?.GetValueOrDefault("total"), data?.GetValueOrDefault("votes_noodles"), data?.GetValueOrDefault("votes_rice"));
    }
}
