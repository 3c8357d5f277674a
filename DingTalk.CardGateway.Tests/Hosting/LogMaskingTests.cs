using System.Net;
using System.Net.Http.Json;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.Configuration;
using Serilog.Events;
using Serilog.Parsing;

namespace DingTalk.CardGateway.Tests.Hosting;

public class LogMaskingTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>
{
    [Fact]
    public async Task No_secret_or_token_reaches_the_log_during_a_busy_session()
    {
        using var api = fixture.Gateway.CreateAdminClient();
        using var stranger = fixture.Gateway.CreateClient();
        stranger.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, GatewayFactory.AdminKey[..^1]);

        await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "mask-1", openConversationId = "cidM==", cardData = new { a = 1 } });
        fixture.DingTalk.State.ExpireAllTokens();
        await api.PutAsJsonAsync("/api/cards/mask-1", new { cardData = new { a = 2 } });
        await api.PutAsJsonAsync("/api/cards/ghost", new { cardData = new { a = 2 } });
        await api.PostAsJsonAsync("/api/robot-cards", new { cardBizId = "mask-r", userId = "u1", cardData = new { contents = Array.Empty<object>() } });
        await stranger.GetAsync("/api/cards/mask-1");
        await api.GetAsync($"/api/cards/{GatewayFactory.ApiSecret}");

        var tokens = fixture.DingTalk.State.Requests.Select(r => r.AccessToken).OfType<string>().Distinct().ToList();
        Assert.NotEmpty(tokens);
        var logs = fixture.Gateway.RenderedLogs();
        Assert.Contains("mask-1", logs, StringComparison.Ordinal); // the log did record this session
        string[] secrets = [fixture.DingTalk.Options.AppSecret, GatewayFactory.ApiSecret, GatewayFactory.AdminKey, .. tokens];
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_secret_in_any_property_shape_is_masked()
    {
        var masker = new SecretMasker(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DingTalk:AppSecret"] = "app-secret-123",
            ["DingTalk:Callback:ApiSecret"] = "api-secret-456",
            ["Gateway:AdminApiKeys:0"] = "admin-key-789",
        }).Build());
        masker.Add("access-token-abc");
        var enricher = new SecretMaskingEnricher(masker);
        var logEvent = new LogEvent(
            DateTimeOffset.UtcNow,
            LogEventLevel.Information,
            null,
            new MessageTemplateParser().Parse("{A} {B} {C} {D} {E}"),
            [
                new LogEventProperty("A", new ScalarValue("secret=app-secret-123;")),
                new LogEventProperty("B", new SequenceValue([new ScalarValue("api-secret-456")])),
                new LogEventProperty("C", new StructureValue([new LogEventProperty("key", new ScalarValue("admin-key-789"))])),
                new LogEventProperty("D", new ScalarValue(new Uri("https://x.test/?t=access-token-abc"))),
                new LogEventProperty("E", new ScalarValue("/dingtalk/callbacks/robot-card/AbCdEfGh12345678")),
            ]);

        enricher.Enrich(logEvent, null!);

        var rendered = logEvent.RenderMessage() + string.Join(' ', logEvent.Properties.Values);
        Assert.DoesNotContain("app-secret-123", rendered, StringComparison.Ordinal);
        Assert.DoesNotContain("api-secret-456", rendered, StringComparison.Ordinal);
        Assert.DoesNotContain("admin-key-789", rendered, StringComparison.Ordinal);
        Assert.DoesNotContain("access-token-abc", rendered, StringComparison.Ordinal);
        Assert.DoesNotContain("AbCdEfGh12345678", rendered, StringComparison.Ordinal);
        Assert.Contains(SecretMasker.Mask, rendered, StringComparison.Ordinal);
    }
}
