using System.Net;
using System.Text;
using System.Text.Json;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.WebUtilities;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>Normal robot cards call back to the URL minted into them; the token in it is their only proof.</summary>
[Collection(CallbackGatewayCollection.Name)]
public class RobotCardCallbackTests(CallbackGateway gateway)
{
    private static readonly object StandardCard = new
    {
        config = new { autoLayout = true },
        header = new { title = new { type = "text", text = "Leave request" } },
        contents = new object[] { new { type = "markdown", text = "Bob asks for Friday off", id = "intro" } },
    };

    [Fact]
    public async Task A_click_on_a_robot_card_reaches_the_same_handlers_and_updates_the_robot_card()
    {
        var (cardBizId, path) = await gateway.SendRobotCardAsync(StandardCard);

        var answer = await PostAsync(path, DingTalkCallback.RobotBody(cardBizId, "manager1", new { action = "approve" }));

        Assert.Equal("approved", answer.GetProperty("cardData").GetProperty("cardParamMap").GetProperty("status").GetString());
        var card = await Eventually.ValueAsync(
            () => gateway.DingTalk.State.FindRobotCard(cardBizId) is { UpdateCount: > 0 } c ? c : null, "the robot-card update for everyone");
        using var data = JsonDocument.Parse(card.CardData);
        Assert.Equal("approved", data.RootElement.GetProperty("status").GetString());
        Assert.Equal("manager1", data.RootElement.GetProperty("decidedBy").GetString());
        Assert.Equal("Leave request", data.RootElement.GetProperty("header").GetProperty("title").GetProperty("text").GetString());

        // A StandardCard shows no variables: the decision is also written into a markdown block people see.
        var contents = data.RootElement.GetProperty("contents").EnumerateArray().ToArray();
        Assert.Equal(["intro", "approval"], contents.Select(b => b.GetProperty("id").GetString()));
        Assert.Equal("Bob asks for Friday off", contents[0].GetProperty("text").GetString());
        Assert.Equal("markdown", contents[1].GetProperty("type").GetString());
        Assert.Equal("**Approved** by manager1", contents[1].GetProperty("text").GetString());
    }

    [Fact]
    public async Task A_poll_on_a_robot_card_shows_its_counts_in_the_block_the_card_placed_for_them()
    {
        var (cardBizId, path) = await gateway.SendRobotCardAsync(new
        {
            header = new { title = new { type = "text", text = "Lunch?" } },
            contents = new object[]
            {
                new { type = "markdown", text = "Where shall we eat?", id = "intro" },
                new { type = "markdown", text = "No votes yet", id = "poll" },
                new { type = "action", id = "buttons", actions = new object[] { new { type = "button", id = "vote_a", label = new { type = "text", text = "A" } } } },
            },
        });

        await PostAsync(path, DingTalkCallback.RobotBody(cardBizId, "u1", new { action = "vote", option = "A" }));
        await PostAsync(path, DingTalkCallback.RobotBody(cardBizId, "u2", new { action = "vote", option = "B_*" }));
        var answer = await PostAsync(path, DingTalkCallback.RobotBody(cardBizId, "u1", new { action = "vote", option = "B_*" }));

        Assert.Equal("B_*", answer.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myVote").GetString());
        var expected = @"**2 voters** · A: 0 · B\_\*: 2";
        var contents = await Eventually.ValueAsync(
            () =>
            {
                using var data = JsonDocument.Parse(gateway.DingTalk.State.FindRobotCard(cardBizId)!.CardData);
                var blocks = data.RootElement.GetProperty("contents").Clone().EnumerateArray().ToArray();
                return blocks[1].GetProperty("text").GetString() == expected ? blocks : null;
            },
            "the robot card showing the third vote");
        Assert.Equal(["intro", "poll", "buttons"], contents.Select(b => b.GetProperty("id").GetString()));
        Assert.Equal("Where shall we eat?", contents[0].GetProperty("text").GetString());
        Assert.Equal("vote_a", contents[2].GetProperty("actions")[0].GetProperty("id").GetString());
    }

    [Fact]
    public async Task The_same_click_on_a_robot_card_later_is_a_click_of_its_own()
    {
        // DingTalk sends these callbacks without a delivery id or timestamp: the same body again is the user clicking again.
        var (cardBizId, path) = await gateway.SendRobotCardAsync(new { contents = new object[] { new { type = "markdown", text = "", id = "poll" } } });

        await PostAsync(path, DingTalkCallback.RobotBody(cardBizId, "u1", new { action = "vote", option = "A" }));
        await PostAsync(path, DingTalkCallback.RobotBody(cardBizId, "u1", new { action = "vote", option = "B" }));
        await PostAsync(path, DingTalkCallback.RobotBody(cardBizId, "u1", new { action = "vote", option = "A" }));

        await Eventually.TrueAsync(
            () =>
            {
                using var data = JsonDocument.Parse(gateway.DingTalk.State.FindRobotCard(cardBizId)!.CardData);
                return data.RootElement.GetProperty("contents")[0].GetProperty("text").GetString() == "**1 voter** · A: 1 · B: 0";
            },
            "the third click counted: u1 back on A");
        using var state = JsonDocument.Parse(await gateway.Api.GetStringAsync($"/api/cards/{cardBizId}"));
        Assert.Equal(3, state.RootElement.GetProperty("callbacks").EnumerateArray().Count(c => c.GetProperty("outcome").GetString() == "Handled"));
    }

    [Fact]
    public async Task A_token_minted_for_another_card_is_refused()
    {
        var (cardBizId, _) = await gateway.SendRobotCardAsync(StandardCard);
        var otherToken = RobotCardCallbackToken.Mint("some-other-card", GatewayFactory.ApiSecret);

        var problem = await RefusedAsync(RobotCardCallbackToken.RoutePrefix + otherToken, DingTalkCallback.RobotBody(cardBizId, "u1", new { action = "approve" }));

        Assert.Equal("The token in the callback URL was not minted for the card this body names.", problem.GetProperty("detail").GetString());
        await Eventually.TrueAsync(
            () => gateway.Logs.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == 3011 && e.RenderMessage().Contains("not minted for the card", StringComparison.Ordinal)),
            "the refusal logged with its reason");
    }

    [Fact]
    public async Task The_url_token_of_a_robot_card_whose_id_is_a_timestamp_does_not_sign_card_callbacks()
    {
        // An operator may well use the time as the card's id. Its URL token must not double as the advanced-card
        // signature of that moment (the same HMAC under the same secret before tokens had their own prefix).
        var now = DateTimeOffset.UtcNow;
        var (_, path) = await gateway.SendRobotCardAsync(StandardCard, DingTalkCallback.Millis(now));
        var token = path[RobotCardCallbackToken.RoutePrefix.Length..];
        var asSignature = Convert.ToBase64String(WebEncoders.Base64UrlDecode(token));
        var outTrackId = await gateway.SendCardAsync("tpl.poll");

        using var forged = DingTalkCallback.Unsigned(
            DingTalkCallback.Body(outTrackId, "mallory", new { action = "vote", option = "A" }),
            ("x-ddpaas-signature-timestamp", DingTalkCallback.Millis(now)),
            ("x-ddpaas-signature", asSignature));
        await HttpAssert.ProblemAsync(await gateway.DingTalkClient.SendAsync(forged), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_token_minted_before_tokens_had_a_prefix_opens_its_card_unless_its_id_reads_as_a_timestamp()
    {
        var (cardBizId, _) = await gateway.SendRobotCardAsync(StandardCard);
        var answer = await PostAsync(RobotCardCallbackToken.RoutePrefix + LegacyToken(cardBizId), DingTalkCallback.RobotBody(cardBizId, "manager1", new { action = "approve" }));
        Assert.Equal("approved", answer.GetProperty("cardData").GetProperty("cardParamMap").GetProperty("status").GetString());

        var (timeId, _) = await gateway.SendRobotCardAsync(StandardCard, DingTalkCallback.Millis(DateTimeOffset.UtcNow.AddDays(-3)));
        var problem = await RefusedAsync(RobotCardCallbackToken.RoutePrefix + LegacyToken(timeId), DingTalkCallback.RobotBody(timeId, "manager1", new { action = "approve" }));
        Assert.StartsWith("The token in the callback URL was minted by an older gateway", problem.GetProperty("detail").GetString());
    }

    /// <summary>The token as gateways minted it before the prefix: Base64Url(HMAC-SHA256(ApiSecret, cardBizId)).</summary>
    private static string LegacyToken(string cardBizId) => WebEncoders.Base64UrlEncode(
        System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes(GatewayFactory.ApiSecret), Encoding.UTF8.GetBytes(cardBizId)));

    [Theory]
    [InlineData("not-a-token")]
    [InlineData("%%%")]
    [InlineData("AAAA")]
    public async Task A_made_up_token_is_refused(string token)
    {
        var (cardBizId, _) = await gateway.SendRobotCardAsync(StandardCard);

        await RefusedAsync(RobotCardCallbackToken.RoutePrefix + token, DingTalkCallback.RobotBody(cardBizId, "u1", new { action = "approve" }));
    }

    [Fact]
    public async Task Robot_headers_signed_with_the_app_secret_are_accepted()
    {
        var (cardBizId, path) = await gateway.SendRobotCardAsync(StandardCard);
        var timestamp = DingTalkCallback.Millis(DateTimeOffset.UtcNow);

        var answer = await PostAsync(
            path,
            DingTalkCallback.RobotBody(cardBizId, "u1", new { action = "reject" }),
            ("timestamp", timestamp),
            ("sign", RobotCallbackSignature.Sign(timestamp, gateway.DingTalk.Options.AppSecret)));

        Assert.Equal("rejected", answer.GetProperty("cardData").GetProperty("cardParamMap").GetProperty("status").GetString());
    }

    [Theory]
    [InlineData(0, "wrong-secret", "The sign header does not match")]
    [InlineData(-2, null, "s behind this gateway's clock; at most 1 h either way is accepted")]
    [InlineData(0, "", "Give both robot headers")]
    public async Task Robot_headers_that_do_not_verify_are_refused(int hours, string? secret, string expected)
    {
        var (cardBizId, path) = await gateway.SendRobotCardAsync(StandardCard);
        var timestamp = DingTalkCallback.Millis(DateTimeOffset.UtcNow.AddHours(hours));
        var sign = secret == "" ? "" : RobotCallbackSignature.Sign(timestamp, secret ?? gateway.DingTalk.Options.AppSecret);

        var problem = await RefusedAsync(path, DingTalkCallback.RobotBody(cardBizId, "u1", new { action = "approve" }), ("timestamp", timestamp), ("sign", sign));

        Assert.Contains(expected, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_robot_card_body_over_one_megabyte_gets_413_and_a_warning_naming_the_limit()
    {
        var (cardBizId, path) = await gateway.SendRobotCardAsync(StandardCard);
        var huge = DingTalkCallback.RobotBody(cardBizId, "u1", new { action = "approve", pad = new string('x', 1024 * 1024) });
        var warnedBefore = CardCallbackEndpointTests.TooLargeWarnings(gateway.Logs.LogEvents, 3012);

        using var request = DingTalkCallback.Post(path, Encoding.UTF8.GetBytes(huge));
        await HttpAssert.ProblemAsync(await gateway.DingTalkClient.SendAsync(request), HttpStatusCode.RequestEntityTooLarge);

        await Eventually.TrueAsync(() => CardCallbackEndpointTests.TooLargeWarnings(gateway.Logs.LogEvents, 3012) > warnedBefore, "the 413 logged as event 3012");
    }

    private async Task<JsonElement> PostAsync(string path, string body, params (string, string)[] headers)
    {
        using var request = DingTalkCallback.Post(path, Encoding.UTF8.GetBytes(body), headers);
        return await HttpAssert.JsonAsync(await gateway.DingTalkClient.SendAsync(request), HttpStatusCode.OK);
    }

    private async Task<JsonElement> RefusedAsync(string path, string body, params (string, string)[] headers)
    {
        using var request = DingTalkCallback.Post(path, Encoding.UTF8.GetBytes(body), headers);
        return await HttpAssert.ProblemAsync(await gateway.DingTalkClient.SendAsync(request), HttpStatusCode.Unauthorized);
    }
}
