using System.Net;
using System.Net.Http.Json;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Admin;

public class AdminApiKeyTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("wrong-key")]
    [InlineData(GatewayFactory.AdminKey + "x")]
    [InlineData("sandbox")]
    public async Task Without_a_valid_key_the_api_answers_401_problem(string? key)
    {
        using var client = fixture.Gateway.CreateClient();
        if (key is not null)
        {
            client.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, key);
        }

        var response = await client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "t", openConversationId = "c" });

        await HttpAssert.ProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Empty(fixture.DingTalk.State.RequestsTo("/v1.0/card/instances/createAndDeliver"));
    }

    [Fact]
    public async Task Every_api_route_is_closed()
    {
        using var client = fixture.Gateway.CreateClient();
        var calls = new Func<Task<HttpResponseMessage>>[]
        {
            () => client.GetAsync("/api/cards/x"),
            () => client.PutAsJsonAsync("/api/cards/x", new { cardData = new { a = 1 } }),
            () => client.PostAsJsonAsync("/api/cards/x/stream", new { key = "k", content = "c" }),
            () => client.PostAsJsonAsync("/api/robot-cards", new { }),
            () => client.PutAsJsonAsync("/api/robot-cards/x", new { }),
        };

        foreach (var call in calls)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await call()).StatusCode);
        }
    }

    [Fact]
    public async Task With_no_key_configured_a_live_gateway_admits_nobody_and_says_so()
    {
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?> { ["Gateway:AdminApiKeys:0"] = "" });
        using var client = gateway.CreateClient();
        client.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, GatewayFactory.AdminKey);

        var response = await client.GetAsync("/api/cards/x");

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Contains("closed", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains(gateway.LogEvents, e => e.MessageTemplate.Text.Contains("admin API (/api/*) is closed", StringComparison.Ordinal));
    }
}
