using System.Net;
using System.Net.Http.Json;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Cards;

/// <summary>
/// What an operator learns when DingTalk answers a call with something other than success: the call, DingTalk's code,
/// message and request id (what DingTalk's support asks for), in the log, the dead letter and the answer to the caller.
/// </summary>
public sealed class DingTalkAnswerDiagnosisTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>, IAsyncLifetime
{
    private readonly HttpClient _api = fixture.Gateway.CreateAdminClient();

    public Task InitializeAsync()
    {
        fixture.DingTalk.State.Reset();
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        fixture.DingTalk.AnswerInstead = null;
        _api.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>A 200 that does not say success is no creation: the card is not reported created, delivered to nobody.</summary>
    [Theory]
    [InlineData("""{"success":false}""")]
    [InlineData("""{"result":{"outTrackId":"x"}}""")]
    [InlineData("{}")]
    public async Task A_creation_answered_200_without_success_is_not_reported_created(string body)
    {
        var card = "no-success-" + Guid.NewGuid().ToString("N")[..8];
        fixture.DingTalk.AnswerInstead = (method, path) =>
            path == "/v1.0/card/instances/createAndDeliver" ? new FakeDingTalk.RawAnswer(200, "application/json", body) : null;

        var response = await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = card, openConversationId = "cidX==" });

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("gateway.notSucceeded", problem.GetProperty("dingTalkCode").GetString());
        Assert.Contains($"DingTalk did not confirm the creation of card {card}", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains(fixture.Gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 9002 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
        var state = await HttpAssert.JsonAsync(await _api.GetAsync($"/api/cards/{card}"), HttpStatusCode.OK);
        Assert.False(state.GetProperty("card").GetProperty("creationConfirmed").GetBoolean());
    }

    /// <summary>
    /// A proxy's page, a captive portal, a body cut short: a 200 DingTalk's JSON reader cannot read is an answer from
    /// DingTalk's side that says nothing, named as such (the call, the status, the content type), not the gateway's own
    /// unexpected error (500 with a stack trace).
    /// </summary>
    [Theory]
    [InlineData("text/html", "<html><body>Please log in to the proxy</body></html>")]
    [InlineData("application/json", "{\"success\":tr")]
    public async Task A_creation_answered_200_with_a_body_that_is_not_DingTalks_JSON_names_the_call_not_an_internal_error(string contentType, string body)
    {
        var card = "unreadable-" + Guid.NewGuid().ToString("N")[..8];
        fixture.DingTalk.AnswerInstead = (method, path) =>
            path == "/v1.0/card/instances/createAndDeliver" ? new FakeDingTalk.RawAnswer(200, contentType, body) : null;
        var before = fixture.Gateway.LogEvents.Count;

        var response = await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = card, openConversationId = "cidX==" });

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("gateway.unreadableAnswer", problem.GetProperty("dingTalkCode").GetString());
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("POST /v1.0/card/instances/createAndDeliver", detail, StringComparison.Ordinal);
        Assert.Contains($"200 ({contentType})", detail, StringComparison.Ordinal);
        Assert.DoesNotContain(fixture.Gateway.LogEvents.Skip(before), e => CardCallbackEndpointTests.EventId(e) == 9001);
        Assert.Contains(fixture.Gateway.LogEvents.Skip(before), e => CardCallbackEndpointTests.EventId(e) == 9002);
    }

    /// <summary>
    /// DingTalk's request id is what its support asks for: a refusal for good names it, and the call, wherever it is
    /// told — the dead-letter log line, the dead letter in <c>GET /api/cards/{id}</c> and the operator's 404.
    /// </summary>
    [Fact]
    public async Task An_update_refused_for_good_names_the_call_and_DingTalks_request_id_in_the_log_the_dead_letter_and_the_answer()
    {
        var card = "refused-" + Guid.NewGuid().ToString("N")[..8];
        const string RequestId = "5F0C1D2E-REQ-HDIAG-0001";
        fixture.DingTalk.AnswerInstead = (method, path) => method == HttpMethod.Put && path == "/v1.0/card/instances"
            ? new FakeDingTalk.RawAnswer(400, "application/json;charset=utf-8", $$"""{"code":"param.cardNotExist","message":"card not exist","requestid":"{{RequestId}}"}""")
            : null;

        var response = await _api.PutAsJsonAsync($"/api/cards/{card}", new { cardData = new { n = 1 } });

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Equal(RequestId, problem.GetProperty("dingTalkRequestId").GetString());
        // The answer follows the entry's mark; its log line may come a moment after.
        await Eventually.TrueAsync(
            () => fixture.Gateway.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == 4103 && e.RenderMessage().Contains(card, StringComparison.Ordinal)),
            "the dead letter's log line");
        var logged = Assert.Single(fixture.Gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 4103 && e.RenderMessage().Contains(card, StringComparison.Ordinal)).RenderMessage();
        Assert.Contains("PUT /v1.0/card/instances", logged, StringComparison.Ordinal);
        Assert.Contains($"requestid {RequestId}", logged, StringComparison.Ordinal);
        var state = await HttpAssert.JsonAsync(await _api.GetAsync($"/api/cards/{card}"), HttpStatusCode.OK);
        var dead = Assert.Single(state.GetProperty("undelivered").EnumerateArray());
        Assert.Contains($"requestid {RequestId}", dead.GetProperty("lastError").GetString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A card asked for with <c>callbackType: STREAM</c> from a gateway without Stream mode: DingTalk creates it, and its
    /// clicks go to a Stream connection this gateway does not hold — they never arrive. Sent as asked (another process of
    /// the same app may hold one), and said once, naming the card and the setting.
    /// </summary>
    [Fact]
    public async Task A_stream_callback_card_sent_without_stream_mode_is_warned_of_naming_the_card_and_the_setting()
    {
        var card = "stream-card-" + Guid.NewGuid().ToString("N")[..8];

        var response = await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = card, openConversationId = "cidX==", callbackType = "STREAM" });

        await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        var logged = Assert.Single(fixture.Gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3131 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
        Assert.Contains("DingTalk:Stream:Enabled", logged.RenderMessage(), StringComparison.Ordinal);
        Assert.Equal(Serilog.Events.LogEventLevel.Warning, logged.Level);
    }

    /// <summary>A refused token call (error 1002) names DingTalk's request id too: a wrong AppSecret is one thing, DingTalk's own fault another.</summary>
    [Fact]
    public async Task A_refused_token_call_is_logged_with_DingTalks_request_id()
    {
        const string RequestId = "7A1B2C3D-REQ-HDIAG-TOKEN";
        fixture.DingTalk.AnswerInstead = (method, path) => path == "/v1.0/oauth2/accessToken"
            ? new FakeDingTalk.RawAnswer(400, "application/json", $$"""{"code":"invalidClientIdOrSecret","message":"bad client id or secret","requestid":"{{RequestId}}"}""")
            : null;
        fixture.DingTalk.State.ExpireAllTokens();
        var before = fixture.Gateway.LogEvents.Count;

        var response = await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "token-" + Guid.NewGuid().ToString("N")[..8], openConversationId = "cidX==" });

        await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        var logged = fixture.Gateway.LogEvents.Skip(before).First(e => CardCallbackEndpointTests.EventId(e) == 1002);
        Assert.Contains(RequestId, logged.RenderMessage(), StringComparison.Ordinal);
    }
}
