using System.Net;
using System.Net.Http.Json;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Hosting;

public class HealthAndSwaggerTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>
{
    [Fact]
    public async Task Liveness_and_readiness_answer_when_DingTalk_gives_a_token()
    {
        using var client = fixture.Gateway.CreateClient();

        await HttpAssert.JsonAsync(await client.GetAsync("/health/live"), HttpStatusCode.OK);
        var ready = await HttpAssert.JsonAsync(await client.GetAsync("/health/ready"), HttpStatusCode.OK);

        Assert.Equal("Healthy", ready.GetProperty("checks").GetProperty("dingtalk-token").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Wrong_app_credentials_make_the_gateway_unready_with_DingTalks_reason()
    {
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?> { ["DingTalk:AppSecret"] = "not-the-secret" });
        using var client = gateway.CreateClient();

        var ready = await AnsweredReadinessAsync(client);
        await HttpAssert.JsonAsync(await client.GetAsync("/health/live"), HttpStatusCode.OK);

        var token = ready.GetProperty("checks").GetProperty("dingtalk-token").GetProperty("description").GetString();
        Assert.Contains("invalidClientIdOrSecret", token, StringComparison.Ordinal);
        Assert.Contains("check DingTalk:AppKey and DingTalk:AppSecret", token, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-secret", ready.GetRawText(), StringComparison.Ordinal);
    }

    /// <summary>
    /// Every readiness probe fetched a token, and each refusal logged error 1002: under Kubernetes probing, an error line
    /// every few seconds saying what /health/ready already says. A probe's refusal is readiness's to say; a card sent by
    /// an admin request still logs 1002 beside its own answer.
    /// </summary>
    [Fact]
    public async Task Wrong_app_credentials_log_no_token_error_per_readiness_probe_but_do_for_a_card_sent()
    {
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?> { ["DingTalk:AppSecret"] = "not-the-secret" });
        using var client = gateway.CreateClient();

        for (var probe = 0; probe < 3; probe++)
        {
            await HttpAssert.JsonAsync(await client.GetAsync("/health/ready"), HttpStatusCode.ServiceUnavailable);
        }

        Assert.DoesNotContain(gateway.LogEvents, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 1002);

        using var api = gateway.CreateAdminClient();
        using var sent = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "wrong-secret-1", openConversationId = "cidW==" });
        Assert.False(sent.IsSuccessStatusCode);
        var refused = Assert.Single(gateway.LogEvents, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 1002);
        Assert.Equal(Serilog.Events.LogEventLevel.Error, refused.Level);
        Assert.Contains("check DingTalk:AppKey and DingTalk:AppSecret", refused.RenderMessage(), StringComparison.Ordinal);
    }

    /// <summary>
    /// An unready gateway under Kubernetes probing wrote two error lines per probe: the health-check framework's
    /// "Health check … Unhealthy" and the request log's 503. Readiness is said when it changes — why it is not ready,
    /// once; ready again, once — and the probes themselves at Debug. The JSON still gives each check's reason.
    /// </summary>
    [Fact]
    public async Task Readiness_is_logged_when_it_changes_not_at_every_probe()
    {
        fixture.DingTalk.State.FailNext(HttpMethod.Post, "/v1.0/oauth2/accessToken", 400, "invalidClientIdOrSecret", "no such app", times: 4);
        await using var gateway = new GatewayFactory(fixture.DingTalk);
        using var client = gateway.CreateClient();

        // The first refusal known before the first probe (a probe answers "has not answered yet" while a token call is
        // under way, and says the refusal again when it comes): each probe then says it, from its own call or the last.
        using (AccessTokenProvider.CallerReportsRefusal())
        {
            await Assert.ThrowsAsync<DingTalkApiException>(() => gateway.Services.GetRequiredService<AccessTokenProvider>().GetTokenAsync(default).AsTask());
        }

        for (var probe = 0; probe < 3; probe++)
        {
            var unready = await HttpAssert.JsonAsync(await client.GetAsync("/health/ready"), HttpStatusCode.ServiceUnavailable);
            Assert.Contains("invalidClientIdOrSecret", unready.GetProperty("checks").GetProperty("dingtalk-token").GetProperty("description").GetString(), StringComparison.Ordinal);
        }

        await Callbacks.Eventually.TrueAsync(async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, "ready once DingTalk gives a token");
        await HttpAssert.JsonAsync(await client.GetAsync("/health/ready"), HttpStatusCode.OK);

        var loud = gateway.LogEvents.Where(e => e.Level >= Serilog.Events.LogEventLevel.Warning).ToList();
        var notReady = Assert.Single(loud);
        Assert.Equal(1107, Callbacks.CardCallbackEndpointTests.EventId(notReady));
        Assert.Contains("dingtalk-token: DingTalk refused the token call: invalidClientIdOrSecret", notReady.RenderMessage(), StringComparison.Ordinal);
        var ready = Assert.Single(gateway.LogEvents, e => Callbacks.CardCallbackEndpointTests.EventId(e) == 1108);
        Assert.Equal(Serilog.Events.LogEventLevel.Information, ready.Level);
        Assert.StartsWith("Ready again", ready.RenderMessage(), StringComparison.Ordinal);
        Assert.DoesNotContain(gateway.LogEvents, e => e.MessageTemplate.Text.StartsWith("HTTP ", StringComparison.Ordinal) && e.Level > Serilog.Events.LogEventLevel.Debug);
    }

    /// <summary>An ApiBaseUrl nothing answers at: readiness says what failed and which key to check, not only an exception's type name.</summary>
    [Fact]
    public async Task An_unreachable_DingTalk_makes_the_gateway_unready_saying_why_and_which_key_to_check()
    {
        var port = ClosedPort.Take();
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?>
        {
            ["DingTalk:ApiBaseUrl"] = $"http://127.0.0.1:{port}/",
            ["DingTalk:Outbound:MaxRetryAttempts"] = "1",
        });
        using var client = gateway.CreateClient();

        var ready = await AnsweredReadinessAsync(client);

        var token = ready.GetProperty("checks").GetProperty("dingtalk-token").GetProperty("description").GetString();
        Assert.Contains("Connection refused", token, StringComparison.Ordinal);
        Assert.Contains("DingTalk:ApiBaseUrl", token, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "/sandbox/")]
    [InlineData("GET", "/sandbox/cards")]
    [InlineData("POST", "/sandbox/clicks")]
    public async Task A_Live_gateway_has_no_sandbox_pages(string method, string path)
    {
        // They ask for no key and show what the emulator received, credentials included: Sandbox mode only.
        using var client = fixture.Gateway.CreateClient();

        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json") };
        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Swagger_documents_the_admin_api_with_the_api_key_scheme()
    {
        using var client = fixture.Gateway.CreateClient();

        var ui = await client.GetAsync("/swagger/index.html");
        var doc = await HttpAssert.JsonAsync(await client.GetAsync("/openapi/v1.json"), HttpStatusCode.OK);

        Assert.Equal(HttpStatusCode.OK, ui.StatusCode);
        var paths = doc.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/api/cards", paths);
        Assert.Contains("/api/cards/{outTrackId}", paths);
        Assert.Contains("/api/cards/{outTrackId}/stream", paths);
        Assert.Contains("/api/robot-cards", paths);
        Assert.Contains("/api/robot-cards/{cardBizId}", paths);
        Assert.DoesNotContain(paths, p => p.StartsWith("/dingtalk", StringComparison.Ordinal) || p.StartsWith("/health", StringComparison.Ordinal));
        var scheme = doc.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey");
        Assert.Equal("X-Api-Key", scheme.GetProperty("name").GetString());
        Assert.Equal("header", scheme.GetProperty("in").GetString());
    }

    [Theory]
    [InlineData("/api/cards", "post", new[] { "201", "400", "401", "404", "422", "502", "503" })]
    [InlineData("/api/cards/{outTrackId}", "put", new[] { "202", "204", "400", "401", "404", "422", "502", "503" })]
    [InlineData("/api/cards/{outTrackId}", "get", new[] { "200", "401", "404", "503" })]
    [InlineData("/api/robot-cards/{cardBizId}", "get", new[] { "200", "401", "404", "503" })]
    public async Task Swagger_lists_the_problems_a_route_can_answer(string path, string method, string[] statuses)
    {
        using var client = fixture.Gateway.CreateClient();

        var doc = await HttpAssert.JsonAsync(await client.GetAsync("/openapi/v1.json"), HttpStatusCode.OK);

        var responses = doc.GetProperty("paths").GetProperty(path).GetProperty(method).GetProperty("responses").EnumerateObject().Select(r => r.Name);
        Assert.Superset(statuses.ToHashSet(), responses.ToHashSet());
    }

    /// <summary>The first 503 whose token check says an outcome: a probe during the first token call says only that DingTalk has not answered yet.</summary>
    private static async Task<System.Text.Json.JsonElement> AnsweredReadinessAsync(HttpClient client)
    {
        System.Text.Json.JsonElement ready = default;
        await Callbacks.Eventually.TrueAsync(
            async () =>
            {
                ready = await HttpAssert.JsonAsync(await client.GetAsync("/health/ready"), HttpStatusCode.ServiceUnavailable);
                return !ready.GetProperty("checks").GetProperty("dingtalk-token").GetProperty("description").GetString()!.Contains("has not answered yet", StringComparison.Ordinal);
            },
            "the token call's outcome");
        return ready;
    }
}
