using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>
/// <c>DingTalk:Stream:Enabled</c> changed in the configuration of a running gateway (appsettings.json is reloaded on
/// change, a mounted ConfigMap with it): the connection is opened or not at startup, so the cards it sends and its
/// readiness keep following that until a restart — a card's clicks always reach the transport the gateway has.
/// </summary>
public sealed class StreamModeReloadTests
{
    [Fact]
    public async Task Turning_Stream_on_in_a_running_HTTP_gateway_neither_sends_cards_no_connection_receives_nor_makes_it_unready()
    {
        await using var dingTalk = await FakeDingTalk.StartAsync();
        await using var factory = new GatewayFactory(dingTalk);
        using var api = factory.CreateAdminClient();
        Assert.Equal("Healthy", (await StreamReadinessAsync(api)).GetProperty("status").GetString());

        Reload(factory.Services, "DingTalk:Stream:Enabled", "true");

        var outTrackId = await SendCardAsync(api);
        Assert.Equal("HTTP", dingTalk.State.FindCard(outTrackId)!.CallbackType); // no Stream connection would receive a STREAM card's clicks
        Assert.Equal("Healthy", (await StreamReadinessAsync(api)).GetProperty("status").GetString());

        // A STREAM card asked for by name is sent as asked, and warned of: this gateway still opens no connection.
        var asked = $"reload-{Guid.NewGuid():N}";
        var response = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = asked, openConversationId = "cidReload==", callbackType = "STREAM", cardData = new { } });
        await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        Assert.Contains(factory.LogEvents, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 3131 && e.RenderMessage().Contains(asked, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Turning_Stream_off_in_a_running_Stream_gateway_keeps_sending_cards_whose_clicks_its_connection_receives()
    {
        var gateway = await StreamGateway.StartAsync();
        try
        {
            Reload(gateway.App.Services, "DingTalk:Stream:Enabled", "false", ("DingTalk:Callback:PublicBaseUrl", GatewayFactory.PublicBaseUrl));

            var outTrackId = await gateway.SendCardAsync("tpl.count");
            Assert.Equal("STREAM", gateway.DingTalk.State.FindCard(outTrackId)!.CallbackType); // no callback URL was registered for an HTTP one
            var answer = await gateway.ClickAsync(outTrackId, "u1", new { action = CountingHandler.Action });
            Assert.Equal(200, answer.Code);
            Assert.Contains("Connected", (await StreamReadinessAsync(gateway.Api)).GetProperty("description").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    /// <summary>Changes settings as a reloaded appsettings.json does: the options monitors see the new values.</summary>
    private static void Reload(IServiceProvider services, string key, string value, params (string Key, string Value)[] more)
    {
        var configuration = (IConfigurationRoot)services.GetRequiredService<IConfiguration>();
        configuration[key] = value;
        foreach (var (k, v) in more)
        {
            configuration[k] = v;
        }

        configuration.Reload();
    }

    private static async Task<string> SendCardAsync(HttpClient api)
    {
        var outTrackId = $"reload-{Guid.NewGuid():N}";
        var response = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId, openConversationId = "cidReload==", cardData = new { } });
        await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        return outTrackId;
    }

    private static async Task<JsonElement> StreamReadinessAsync(HttpClient api)
    {
        using var response = await api.GetAsync("/health/ready");
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("checks").GetProperty("dingtalk-stream").Clone();
    }
}
