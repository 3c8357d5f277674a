using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.Sandbox.Stream;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>
/// A DingTalk whose <c>/v1.0/gateway/connections/open</c> answers 200 with something that is no endpoint and ticket (a
/// front that answers for a DingTalk behind it, a proxy's page): each attempt fails with a reason an operator can act on,
/// and the gateway keeps trying after the backoff.
/// </summary>
public sealed class StreamOpenAnswerTests
{
    [Theory]
    [InlineData("application/json", "null", "no usable endpoint and ticket")]
    [InlineData("text/html", "<html><body>Welcome to nginx!</body></html>", "no usable endpoint and ticket")]
    [InlineData("application/xml", "<OpenConnectionResponse><endpoint>wss://x/connect</endpoint></OpenConnectionResponse>", "no usable endpoint and ticket")]
    [InlineData("application/json", "", "no usable endpoint and ticket")]
    public async Task An_open_call_answered_200_without_an_endpoint_and_ticket_is_a_failed_attempt_that_says_so(string contentType, string body, string reason)
    {
        await using var dingTalk = await FakeDingTalk.StartAsync();
        await using var front = await StartFrontAsync(contentType, body);
        await using var factory = new GatewayFactory(dingTalk, new Dictionary<string, string?>
        {
            ["DingTalk:ApiBaseUrl"] = LoopbackApp.Address(front),
            ["DingTalk:Stream:Enabled"] = "true",
            ["DingTalk:Stream:BackoffMin"] = "00:00:00.020",
            ["DingTalk:Stream:BackoffMax"] = "00:00:00.050",
            ["DingTalk:Callback:PublicBaseUrl"] = "",
        });
        using var api = factory.CreateAdminClient(); // starts the gateway

        await Eventually.TrueAsync(
            () => factory.LogEvents.Count(e => CardCallbackEndpointTests.EventId(e) == 5003) >= 2,
            "two failed attempts: the gateway keeps trying");

        var failed = factory.LogEvents.First(e => CardCallbackEndpointTests.EventId(e) == 5003).RenderMessage();
        Assert.Contains(reason, failed, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", failed, StringComparison.Ordinal);
    }

    private static async Task<WebApplication> StartFrontAsync(string contentType, string body)
    {
        var app = LoopbackApp.CreateBuilder().Build();
        app.MapPost(StreamProtocol.OpenConnectionPath, async (HttpContext http) =>
        {
            http.Response.ContentType = contentType;
            await http.Response.WriteAsync(body);
        });
        await app.StartAsync();
        return app;
    }
}
