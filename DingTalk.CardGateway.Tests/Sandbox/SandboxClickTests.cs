using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.SandboxTests;

/// <summary><c>POST /clicks</c>: a click delivered the way DingTalk delivers it, or a problem saying why DingTalk could not.</summary>
public sealed class SandboxClickTests : SandboxTestBase
{
    [Fact]
    public async Task A_click_on_an_HTTP_card_is_posted_as_DingTalks_actionCallback_to_the_url_registered_for_its_route_key()
    {
        // The emulator's own catch-all stands in for the gateway: it records the body it got and answers DingTalk's 404.
        await RegisterAsync("gateway-key", new Uri(DingTalk.BaseAddress, "callbacks/card").ToString());
        await CreateHttpCardAsync("card-http", "gateway-key");

        var answer = await ClickAsync(new JsonObject { ["outTrackId"] = "card-http", ["userId"] = "u1", ["params"] = new JsonObject { ["action"] = "vote", ["option"] = "A" } });

        var json = await HttpAssert.JsonAsync(answer, HttpStatusCode.OK);
        Assert.Equal("HTTP", json.GetProperty("via").GetString());
        Assert.Equal(404, json.GetProperty("status").GetInt32());
        Assert.Equal("InvalidAction.NotFound", json.GetProperty("answer").GetProperty("code").GetString());
        var posted = JsonNode.Parse(DingTalk.State.RequestsTo("/callbacks/card").Single().Body)!;
        Assert.Equal("actionCallback", posted["type"]!.GetValue<string>());
        Assert.Equal("card-http", posted["outTrackId"]!.GetValue<string>());
        Assert.Equal("u1", posted["userId"]!.GetValue<string>());
        Assert.Equal("cidGroup1==", posted["spaceId"]!.GetValue<string>());
        var content = JsonNode.Parse(posted["content"]!.GetValue<string>())!; // a JSON string, parsed again
        Assert.Equal("A", content["cardPrivateData"]!["params"]!["option"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_click_on_an_HTTP_card_whose_route_key_has_no_registration_is_409_saying_what_to_configure()
    {
        await CreateHttpCardAsync("card-http", "unregistered-key");

        var answer = await ClickAsync(new JsonObject { ["outTrackId"] = "card-http", ["userId"] = "u1" });

        var detail = (await HttpAssert.ProblemAsync(answer, HttpStatusCode.Conflict)).GetProperty("detail").GetString();
        Assert.Contains("No callback URL is registered for route key 'unregistered-key'", detail, StringComparison.Ordinal);
        Assert.Contains("DingTalk:Callback:RegisterOnStartup", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_click_whose_callback_url_cannot_be_reached_is_502()
    {
        await RegisterAsync("gateway-key", $"http://127.0.0.1:{ClosedPort.Take()}/dingtalk/callbacks/card");
        await CreateHttpCardAsync("card-http", "gateway-key");

        var answer = await ClickAsync(new JsonObject { ["outTrackId"] = "card-http", ["userId"] = "u1" });

        var detail = (await HttpAssert.ProblemAsync(answer, HttpStatusCode.BadGateway)).GetProperty("detail").GetString();
        Assert.Contains("DingTalk could not reach http://127.0.0.1:", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_click_on_an_unknown_card_is_404_saying_to_check_the_id_or_send_it_again()
    {
        var answer = await ClickAsync(new JsonObject { ["outTrackId"] = "no-such-card", ["userId"] = "u1" });

        Assert.Equal(
            "DingTalk has no card no-such-card: check the id against GET /sandbox/cards. The emulator keeps its cards across restarts only beside a SQLite database file; a card it does not have must be sent again.",
            (await HttpAssert.ProblemAsync(answer, HttpStatusCode.NotFound)).GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("""{"outTrackId":"c","params":{}}""")]
    [InlineData("""{"userId":"u1"}""")]
    [InlineData("""{"outTrackId":"c","cardBizId":"b","userId":"u1"}""")]
    [InlineData("""{"outTrackId":"c","userId":"u1","params":"vote"}""")]
    [InlineData("not json")]
    public async Task A_body_that_is_not_one_click_is_400(string body)
    {
        var answer = await Client.SendAsync(HttpMethod.Post, "/clicks", body);

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
    }

    [Theory]
    [InlineData("clicks", null)] // curl -d without -H: application/x-www-form-urlencoded
    [InlineData("clicks", "text/plain")]
    [InlineData("stream/clicks", null)]
    public async Task A_click_not_sent_as_JSON_is_415_saying_so_not_DingTalks_unknown_api(string path, string? contentType)
    {
        // Minimal APIs match a JSON body's endpoint on its Content-Type: the request fell through to the emulator's
        // catch-all, whose 404 "Specified api is not found, please check your url and method" sent people hunting a typo.
        using var http = DingTalk.CreateClient();
        using var content = new StringContent("""{"outTrackId":"c","userId":"u1","params":{}}""");
        content.Headers.ContentType = contentType is null ? new("application/x-www-form-urlencoded") : new(contentType);

        var answer = await http.PostAsync(path, content);

        var detail = (await HttpAssert.ProblemAsync(answer, HttpStatusCode.UnsupportedMediaType)).GetProperty("detail").GetString();
        Assert.Contains("Content-Type: application/json", detail, StringComparison.Ordinal);
    }

    private async Task RegisterAsync(string routeKey, string url)
    {
        var registered = await Client.PostAsync("/v1.0/card/callbacks/register", ValidRequests.RegisterCallback(routeKey, url));
        Assert.Equal(HttpStatusCode.OK, registered.Status);
    }

    private async Task CreateHttpCardAsync(string outTrackId, string routeKey)
    {
        var card = ValidRequests.CreateAndDeliver(outTrackId);
        card["callbackType"] = "HTTP";
        card["callbackRouteKey"] = routeKey;
        var created = await Client.PostAsync("/v1.0/card/instances/createAndDeliver", card);
        Assert.Equal(HttpStatusCode.OK, created.Status);
    }

    private async Task<HttpResponseMessage> ClickAsync(JsonObject click)
    {
        using var http = DingTalk.CreateClient();
        return await http.PostAsync("clicks", new StringContent(click.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
    }

}
