using DingTalk.CardGateway.Tests.Callbacks;

namespace DingTalk.CardGateway.Tests.Handlers;

/// <summary>The shipped approval, end to end: the first decision wins and later clicks only inform their clicker.</summary>
[Collection(CallbackGatewayCollection.Name)]
public class ApprovalHandlerTests(CallbackGateway gateway)
{
    [Fact]
    public async Task The_first_decision_wins_for_everyone()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.approval", new { status = "pending" });

        var answer = await gateway.ClickAsync(outTrackId, "manager1", new { action = "approve", id = "42" });

        var shown = answer.GetProperty("cardData").GetProperty("cardParamMap");
        Assert.Equal(("approved", "manager1"), (shown.GetProperty("status").GetString(), shown.GetProperty("decidedBy").GetString()));
        await Eventually.TrueAsync(
            () => gateway.DingTalk.State.FindCard(outTrackId)?.CardData is { } data && data["status"] == "approved" && data.GetValueOrDefault("decidedBy") == "manager1",
            "status approved by manager1 on everyone's card");
    }

    [Fact]
    public async Task A_later_click_only_tells_its_clicker_that_it_is_already_decided()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.approval", new { status = "pending" });
        await gateway.ClickAsync(outTrackId, "manager1", new { action = "reject" });

        var late = await gateway.ClickAsync(outTrackId, "manager2", new { action = "approve" });

        Assert.Equal("Already rejected by manager1.", late.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("notice").GetString());
        Assert.Equal("rejected", late.GetProperty("cardData").GetProperty("cardParamMap").GetProperty("status").GetString());

        // A later update for everyone on the same card goes out after anything the late click queued, in order.
        await gateway.ClickAsync(outTrackId, "manager3", new { action = "vote", option = "marker" });
        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(outTrackId)?.CardData.ContainsKey("votes_marker") == true, "the marker update");
        var card = gateway.DingTalk.State.FindCard(outTrackId)!;
        Assert.Equal(("rejected", "manager1"), (card.CardData["status"], card.CardData["decidedBy"]));
        Assert.DoesNotContain(gateway.DingTalk.State.RequestsTo("/v1.0/card/instances"), r => r.Method == "PUT" && r.Body.Contains(outTrackId, StringComparison.Ordinal) && r.Body.Contains("approved", StringComparison.Ordinal));
    }
}
