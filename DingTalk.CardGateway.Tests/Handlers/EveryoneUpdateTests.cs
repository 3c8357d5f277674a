using DingTalk.CardGateway.Handlers;

namespace DingTalk.CardGateway.Tests.Handlers;

public sealed class EveryoneUpdateTests
{
    [Fact]
    public void A_notice_for_one_user_who_did_not_click_goes_with_the_public_change()
    {
        var update = EveryoneUpdate.Public(CardValues.Of("owner", "u3"))
            .WithPrivate("u3", CardValues.Of("notice", "u1 assigned this incident to you."));

        Assert.Equal("u3", update.CardData!["owner"].GetString());
        Assert.Equal("u1 assigned this incident to you.", Assert.Single(update.PrivateData!).Value["notice"].GetString());
        Assert.Equal("u3", update.PrivateData!.Keys.Single());
    }

    [Fact]
    public void Values_for_the_same_user_twice_are_merged_by_key_the_later_winning()
    {
        var update = EveryoneUpdate.Private("u3", CardValues.Of("notice", "first").With("since", 1))
            .WithPrivate("u3", CardValues.Of("notice", "second"))
            .WithPrivate("u4", CardValues.Of("notice", "other"));

        Assert.Null(update.CardData);
        Assert.Equal("second", update.PrivateData!["u3"]["notice"].GetString());
        Assert.Equal(1, update.PrivateData!["u3"]["since"].GetInt32());
        Assert.Equal("other", update.PrivateData!["u4"]["notice"].GetString());
    }
}
