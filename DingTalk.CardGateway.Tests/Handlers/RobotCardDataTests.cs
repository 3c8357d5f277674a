using System.Text.Json;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Tests.Handlers;

/// <summary>A StandardCard shows no variables, so the shipped handlers also write a markdown block on a normal robot card.</summary>
public class RobotCardDataTests
{
    private const string StoredStandardCard = """{"header":{"title":{"type":"text","text":"Lunch?"}},"contents":[{"type":"markdown","id":"intro","text":"Where?"}]}""";

    [Fact]
    public void On_a_robot_card_the_block_is_appended_to_the_stored_contents_beside_the_values()
    {
        var everyone = EveryoneUpdate.Public(CardValues.Of("total", 2))
            .WithBlockOnRobotCard(Click(CallbackTransport.RobotHttp, RobotCard(StoredStandardCard)), "poll", "**2 voters**", static text => text);
        var update = new PendingCardUpdate("biz-1", CardKind.Robot, everyone.CardData, null, RobotBlocks: everyone.RobotBlocks);

        // As CardUpdates queues it: the blocks go into the stored card (under its lock), and its contents leave for DingTalk.
        var stored = RobotCard(RobotCardData.Merge(StoredStandardCard, update.CardData!, update.RobotBlocks));
        var values = CardUpdates.WithBlocksShown(update, stored).CardData!;

        Assert.Equal(2, values["total"].GetInt32());
        var contents = values["contents"].EnumerateArray().ToArray();
        Assert.Equal(["intro", "poll"], contents.Select(b => b.GetProperty("id").GetString()));
        Assert.Equal("Where?", contents[0].GetProperty("text").GetString());
        Assert.Equal("**2 voters**", contents[1].GetProperty("text").GetString());
    }

    [Fact]
    public void An_advanced_card_gets_only_its_values()
    {
        var everyone = EveryoneUpdate.Public(CardValues.Of("total", 2)).WithBlockOnRobotCard(
            Click(CallbackTransport.Http, card: null), "poll", "unused", static string (_) => throw new InvalidOperationException("the block's text is not needed on an advanced card"));

        Assert.Null(everyone.RobotBlocks);
        Assert.Equal(["total"], everyone.CardData!.Keys);
    }

    [Fact]
    public void A_robot_card_the_gateway_has_no_copy_of_keeps_its_contents_untouched()
    {
        // A contents array built from nothing would replace the card's real one at DingTalk.
        var everyone = EveryoneUpdate.Public(CardValues.Of("total", 2))
            .WithBlockOnRobotCard(Click(CallbackTransport.RobotHttp, card: null), "poll", "**2 voters**", static text => text);
        var update = new PendingCardUpdate("biz-1", CardKind.Robot, everyone.CardData, null, RobotBlocks: everyone.RobotBlocks);

        var queued = CardUpdates.WithBlocksShown(update, stored: null);

        Assert.Equal(["total"], queued.CardData!.Keys);
        Assert.Null(queued.RobotBlocks);
    }

    [Theory]
    [InlineData("plain-id.1", "plain-id.1")]
    [InlineData("B_*", @"B\_\*")]
    [InlineData("[x](http://evil)", @"\[x\](http://evil)")]
    [InlineData("# big\nline", @"\# big line")]
    [InlineData(@"a\b|c<d>`e`~", @"a\\b\|c\<d\>\`e\`\~")]
    public void Text_shown_in_a_block_cannot_format_or_link(string text, string expected)
    {
        Assert.Equal(expected, RobotCardData.EscapeMarkdown(text));
    }

    private static CardRecord RobotCard(string standardCard) => new()
    {
        Id = "biz-1",
        Kind = CardKind.Robot,
        TemplateId = "StandardCard",
        PublicData = new Dictionary<string, string> { [CardUpdates.RobotCardDataKey] = standardCard },
    };

    private static CardActionContext Click(CallbackTransport transport, CardRecord? card) => CardActionContext.From(
        new CardAction
        {
            CallbackId = "cb-1",
            Transport = transport,
            Type = CardActionType.ActionCallback,
            CardId = "biz-1",
            UserId = "u1",
            Params = JsonDocument.Parse("""{"action":"vote","option":"A"}""").RootElement,
        },
        card);
}
