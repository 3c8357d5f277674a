using System.Net;
using System.Net.Http.Json;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Cards.Wire;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Cards;

/// <summary>What the gateway does when DingTalk throttles, fails, or forgets our token.</summary>
public class OutboundResilienceTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>, IAsyncLifetime
{
    private static readonly HttpMethod Put = HttpMethod.Put;
    private readonly HttpClient _api = fixture.Gateway.CreateAdminClient();

    private Sandbox.SandboxState DingTalk => fixture.DingTalk.State;

    public async Task InitializeAsync()
    {
        DingTalk.Reset();
        var response = await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "r-1", openConversationId = "cidR==", cardData = new { n = 0 } });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    public Task DisposeAsync()
    {
        _api.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task An_update_survives_two_429s_in_a_row()
    {
        await using var own = await OwnCardAsync();
        DingTalk.FailNext(Put, "/v1.0/card/instances", 429, "system.busy", times: 2);

        var response = await own.UpdateAsync(1);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal([429, 429, 200], DingTalk.RequestsTo("/v1.0/card/instances").Where(r => r.Method == "PUT").Select(r => r.Status));
        Assert.Equal("1", DingTalk.FindCard(own.Card)!.CardData["n"]);
    }

    [Fact]
    public async Task DingTalks_403_QPS_throttling_is_retried_like_a_429()
    {
        await using var own = await OwnCardAsync();
        DingTalk.FailNext(Put, "/v1.0/card/instances", 403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi");

        var response = await own.UpdateAsync(2);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal([403, 200], DingTalk.RequestsTo("/v1.0/card/instances").Where(r => r.Method == "PUT").Select(r => r.Status));
    }

    [Theory]
    [InlineData(500, "system.busy")]
    [InlineData(503, "ServiceUnavailable")]
    public async Task Server_errors_are_retried(int status, string code)
    {
        await using var own = await OwnCardAsync();
        DingTalk.FailNext(Put, "/v1.0/card/instances", status, code, times: 2, retryAfterSeconds: 0);

        var response = await own.UpdateAsync(3);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    /// <summary>The README's table: throttling, 429 and 5xx that outlast the retries are a 503 to try again, with Retry-After.</summary>
    [Theory]
    [InlineData(503, "ServiceUnavailable")]
    [InlineData(500, "system.busy")]
    [InlineData(429, "system.busy")]
    [InlineData(403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi")]
    public async Task DingTalk_still_overloaded_after_the_retries_is_a_503_with_Retry_After(int status, string code)
    {
        // A gateway of its own: the shared one's circuit breaker must not count these failures.
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?> { ["DingTalk:Outbound:MaxRetryAttempts"] = "1" });
        using var api = gateway.CreateAdminClient();
        DingTalk.FailNext(HttpMethod.Post, "/v1.0/card/instances/createAndDeliver", status, code, times: 2, retryAfterSeconds: 0);

        var response = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = $"busy-{status}", openConversationId = "cidR==" });

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.Equal(code, problem.GetProperty("dingTalkCode").GetString());
        Assert.Equal("1", response.Headers.RetryAfter?.ToString());
        Assert.Equal([status, status], DingTalk.RequestsTo("/v1.0/card/instances/createAndDeliver").Where(r => r.Body.Contains($"busy-{status}", StringComparison.Ordinal)).Select(r => r.Status));
    }

    /// <summary>
    /// DingTalk's throttling (403 <c>QpsLimit…</c>) is DingTalk answering, per app and API: it slows that API's calls
    /// (retries after <c>ThrottleDelay</c>), but does not count toward the circuit breaker, which would pause every call
    /// of the client — card creation, updates, streaming — for its break because one API ran over its quota. DingTalk
    /// failing (503) still opens it: the second row, the same run, and the breaker refusing the next call.
    /// </summary>
    [Theory]
    [InlineData(403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", HttpStatusCode.Created)]
    [InlineData(503, "ServiceUnavailable", HttpStatusCode.ServiceUnavailable)]
    public async Task Throttling_does_not_open_the_circuit_breaker_and_DingTalk_failing_does(int status, string code, HttpStatusCode afterwards)
    {
        // A gateway of its own (its breaker is its own), no retries (one attempt a call), and a limiter that lets the
        // breaker's minimum throughput (100 calls) through at once.
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?>
        {
            ["DingTalk:Outbound:MaxRetryAttempts"] = "0",
            ["DingTalk:Outbound:PermitsPerSecondPerApi"] = "1000",
        });
        using var api = gateway.CreateAdminClient();
        const string Create = "/v1.0/card/instances/createAndDeliver";
        var run = $"breaker-{status}-{Guid.NewGuid():N}";
        DingTalk.FailNext(HttpMethod.Post, Create, status, code, times: 100, retryAfterSeconds: 0, bodyContains: run);

        for (var batch = 0; batch < 10; batch++)
        {
            var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(i =>
                api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = $"{run}-{batch}-{i}", openConversationId = "cidR==" })));
            Assert.All(answers, a => Assert.Equal(HttpStatusCode.ServiceUnavailable, a.StatusCode));
        }

        Assert.Equal(100, DingTalk.RequestsTo(Create).Count(r => r.Body.Contains(run, StringComparison.Ordinal)));
        await Task.Delay(TimeSpan.FromSeconds(1.1)); // past the fake DingTalk's own one-second QPS window

        var next = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = $"after-{run}", openConversationId = "cidR==" });

        Assert.Equal(afterwards, next.StatusCode);
        var reached = DingTalk.RequestsTo(Create).Any(r => r.Body.Contains($"after-{run}", StringComparison.Ordinal));
        Assert.Equal(afterwards == HttpStatusCode.Created, reached); // refused by the open circuit, it never left the gateway
    }

    /// <summary>
    /// DingTalk's unnamed 403 on the streaming API (its refusal of frames that come too fast, <c>IsStreamingPaceRefusal</c>)
    /// is a wait, as its throttling is: still there after the retries, a frame sent through the admin API is a 503 to try
    /// again, not a 502 for an operator to fix.
    /// </summary>
    [Fact]
    public async Task A_frame_still_refused_for_its_pace_after_the_retries_is_a_503_with_Retry_After()
    {
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?> { ["DingTalk:Outbound:MaxRetryAttempts"] = "0" });
        using var api = gateway.CreateAdminClient();
        var card = $"paced-{Guid.NewGuid():N}";
        var created = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = card, openConversationId = "cidR==" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        DingTalk.FailNext(Put, "/v1.0/card/streaming", 403, "Forbidden.AccessDenied", bodyContains: card);

        var response = await api.PostAsJsonAsync($"/api/cards/{card}/stream", new { key = "content", content = "too soon" });

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("Forbidden.AccessDenied", problem.GetProperty("dingTalkCode").GetString());
        Assert.NotNull(response.Headers.RetryAfter);
    }

    /// <summary>
    /// The README's table: DingTalk not answering at all is a 503 too, and the log says so (warning 9004) rather than
    /// reporting an unexpected error with its stack trace (9001), which an operator's alert on gateway bugs would catch.
    /// </summary>
    [Fact]
    public async Task DingTalk_unreachable_after_the_retries_is_a_503_logged_as_unreachable_not_as_an_unexpected_error()
    {
        var port = ClosedPort.Take(); // nothing listens there: every connection is refused
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?>
        {
            ["DingTalk:ApiBaseUrl"] = $"http://127.0.0.1:{port}/",
            ["DingTalk:Outbound:MaxRetryAttempts"] = "1",
        });
        using var api = gateway.CreateAdminClient();

        var response = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "unreachable-1", openConversationId = "cidR==" });

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("DingTalk unreachable", problem.GetProperty("title").GetString());
        var logged = Assert.Single(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 9004);
        Assert.Equal(Serilog.Events.LogEventLevel.Warning, logged.Level);
        Assert.Null(logged.Exception);
        Assert.Contains("/api/cards", logged.RenderMessage(), StringComparison.Ordinal);
        Assert.DoesNotContain(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 9001);
    }

    /// <summary>
    /// An ApiBaseUrl nobody answers at (a firewall, a typo): each call's own line says so (9004 here, 3203, 4102, 5003),
    /// while Polly wrote two warnings with the connection's whole stack trace for every attempt of every call — some
    /// 400 lines for one card at the shipped log levels, drowning the line that names the problem.
    /// </summary>
    [Fact]
    public async Task DingTalk_unreachable_writes_no_warning_with_a_stack_trace_for_each_attempt()
    {
        var port = ClosedPort.Take();
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?>
        {
            ["DingTalk:ApiBaseUrl"] = $"http://127.0.0.1:{port}/",
            ["DingTalk:Outbound:MaxRetryAttempts"] = "3",
        });
        using var api = gateway.CreateAdminClient();

        var response = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "unreachable-2", openConversationId = "cidR==" });

        await HttpAssert.ProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.Single(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 9004);
        var withTraces = gateway.LogEvents.Where(e => e.Level >= Serilog.Events.LogEventLevel.Warning && e.Exception is not null).ToList();
        Assert.True(withTraces.Count == 0, string.Join('\n', withTraces.Select(e => $"{e.Level} {e.Properties.GetValueOrDefault("SourceContext")}: {e.RenderMessage()}")));
    }

    /// <summary>The README's table: an unknown template and DingTalk's other parameter refusals are the caller's 422, not retried.</summary>
    [Theory]
    [InlineData("param.templateNotExist")]
    [InlineData("param.templateUnpublished")]
    [InlineData("param.openSpaceId.illegal")]
    public async Task A_template_or_parameter_DingTalk_refuses_is_a_422_with_its_code(string code)
    {
        DingTalk.FailNext(HttpMethod.Post, "/v1.0/card/instances/createAndDeliver", 400, code);

        var response = await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = $"refused-{code}", openConversationId = "cidR==" });

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.UnprocessableEntity);
        Assert.Equal(code, problem.GetProperty("dingTalkCode").GetString());
        Assert.Single(DingTalk.RequestsTo("/v1.0/card/instances/createAndDeliver"), r => r.Body.Contains($"refused-{code}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_missing_permission_is_not_retried_and_names_DingTalks_code()
    {
        DingTalk.FailNext(Put, "/v1.0/card/instances", 403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", "no Card.Instance.Write");

        var response = await UpdateAsync(4);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        Assert.Equal("Forbidden.AccessDenied.AccessTokenPermissionDenied", problem.GetProperty("dingTalkCode").GetString());
        Assert.Single(DingTalk.RequestsTo("/v1.0/card/instances"), r => r.Method == "PUT");
    }

    [Fact]
    public async Task DingTalk_down_longer_than_the_wait_leaves_the_update_queued_until_it_recovers()
    {
        await using var own = await OwnCardAsync();
        DingTalk.FailNext(Put, "/v1.0/card/instances", 503, "ServiceUnavailable", times: 1000);

        var response = await own.UpdateAsync(5);

        var accepted = await HttpAssert.JsonAsync(response, HttpStatusCode.Accepted);
        Assert.Equal("Pending", accepted.GetProperty("status").GetString());
        Assert.Contains("ServiceUnavailable", accepted.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        var state = await HttpAssert.JsonAsync(await own.Api.GetAsync($"/api/cards/{own.Card}"), HttpStatusCode.OK);
        Assert.Contains(state.GetProperty("undelivered").EnumerateArray(), e => e.GetProperty("status").GetString() == "Pending");

        DingTalk.ClearFaults(); // DingTalk recovers; the card is still there, and the outbox's next retry lands
        await Tests.Callbacks.Eventually.TrueAsync(() => DingTalk.FindCard(own.Card)?.CardData.GetValueOrDefault("n") == "5", "the queued update delivered after recovery");
    }

    /// <summary>
    /// DingTalk's <c>Retry-After</c> outlives the HTTP retries: the refusal they end with carries it, for the outbox's
    /// next attempt to wait it out (<c>OutboxDispatcherTests</c>).
    /// </summary>
    [Fact]
    public async Task DingTalks_Retry_After_stays_on_the_refusal_the_retries_end_with()
    {
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?> { ["DingTalk:Outbound:MaxRetryAttempts"] = "0" });
        var cards = gateway.Services.GetRequiredService<IDingTalkCardApi>();
        DingTalk.FailNext(Put, "/v1.0/card/instances", 429, "system.busy", retryAfterSeconds: 30);

        var refused = await Assert.ThrowsAsync<DingTalkApiException>(() => cards.UpdateAsync(
            new UpdateCardRequest { OutTrackId = "r-1", CardData = new(new Dictionary<string, string> { ["n"] = "1" }) },
            CancellationToken.None));

        Assert.Equal("system.busy", refused.Code);
        Assert.Equal(TimeSpan.FromSeconds(30), refused.RetryAfter);
    }

    /// <summary>
    /// A 200 whose body is not DingTalk's JSON (a proxy's page, a body cut short, none at all) does not say the update was
    /// refused, any more than a 200 without <c>success</c> does: the update waits and is sent again, never dead-lettered.
    /// </summary>
    [Theory]
    [InlineData("text/html", "<html><body>upstream</body></html>")]
    [InlineData("application/json", "")]
    [InlineData("application/json", "{\"success\":tr")]
    public async Task An_update_answered_200_with_a_body_that_is_not_DingTalks_JSON_is_retried_not_dead_lettered(string contentType, string body)
    {
        await using var own = await OwnCardAsync();
        var answered = 0;
        fixture.DingTalk.AnswerInstead = (method, path) =>
            method == Put && path == "/v1.0/card/instances" && Interlocked.Increment(ref answered) <= 2 ? new FakeDingTalk.RawAnswer(200, contentType, body) : null;
        try
        {
            await own.UpdateAsync(11);

            await Eventually.TrueAsync(() => DingTalk.FindCard(own.Card)?.CardData.GetValueOrDefault("n") == "11", "the update sent again after the unreadable 200");
            var state = await HttpAssert.JsonAsync(await own.Api.GetAsync($"/api/cards/{own.Card}"), HttpStatusCode.OK);
            Assert.DoesNotContain(state.GetProperty("undelivered").EnumerateArray(), e => e.GetProperty("status").GetString() == "Dead");
        }
        finally
        {
            fixture.DingTalk.AnswerInstead = null;
        }
    }

    [Fact]
    public async Task An_update_DingTalk_refuses_for_good_is_dead_lettered_and_visible()
    {
        DingTalk.FailNext(Put, "/v1.0/card/instances", 400, "param.cardNotExist", "card r-1 does not exist");

        var response = await UpdateAsync(8);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Equal("param.cardNotExist", problem.GetProperty("dingTalkCode").GetString());
        Assert.Single(DingTalk.RequestsTo("/v1.0/card/instances"), r => r.Method == "PUT"); // not retried
        var state = await HttpAssert.JsonAsync(await _api.GetAsync("/api/cards/r-1"), HttpStatusCode.OK);
        Assert.Contains(state.GetProperty("undelivered").EnumerateArray(), e =>
            e.GetProperty("status").GetString() == "Dead" && e.GetProperty("lastErrorCode").GetString() == "param.cardNotExist");
        Assert.Contains(fixture.Gateway.LogEvents, e => e.MessageTemplate.Text.Contains("dead-lettered", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_update_dead_lettered_for_a_missing_permission_names_the_required_scopes_as_a_direct_refusal_does()
    {
        // Refused directly: creating the card answers the scopes DingTalk named.
        DingTalk.DenyPermissionNext(HttpMethod.Post, "/v1.0/card/instances/createAndDeliver", ["Card.Instance.Write"]);
        var send = new { cardTemplateId = "tpl", outTrackId = "scopes-1", openConversationId = "cidR==", cardData = new { n = 0 } };
        var direct = await HttpAssert.ProblemAsync(await _api.PostAsJsonAsync("/api/cards", send), HttpStatusCode.BadGateway);
        Assert.Equal(HttpStatusCode.Created, (await _api.PostAsJsonAsync("/api/cards", send)).StatusCode); // the permission granted
        DingTalk.FailNext(Put, "/v1.0/card/instances", 400, "param.cardNotExist", bodyContains: "scopes-1");
        await HttpAssert.ProblemAsync(await _api.PutAsJsonAsync("/api/cards/scopes-1", new { cardData = new { n = 1 } }), HttpStatusCode.NotFound);

        // Refused through the outbox: the PUT waits for its entry, dead-lettered.
        DingTalk.DenyPermissionNext(Put, "/v1.0/card/instances", ["Card.Instance.Write"], bodyContains: "scopes-1");
        var queued = await HttpAssert.ProblemAsync(await _api.PutAsJsonAsync("/api/cards/scopes-1", new { cardData = new { n = 2 } }), HttpStatusCode.BadGateway);

        Assert.Equal(["Card.Instance.Write"], Scopes(direct));
        Assert.Equal(Scopes(direct), Scopes(queued));
        Assert.Equal("Forbidden.AccessDenied.AccessTokenPermissionDenied", queued.GetProperty("dingTalkCode").GetString());
        var state = await HttpAssert.JsonAsync(await _api.GetAsync("/api/cards/scopes-1"), HttpStatusCode.OK);
        var deadLetters = state.GetProperty("undelivered").EnumerateArray().ToList();
        Assert.Equal(["Dead", "Dead"], deadLetters.Select(e => e.GetProperty("status").GetString()));
        Assert.False(deadLetters[0].TryGetProperty("requiredScopes", out _)); // DingTalk named none: left out, as every null is
        Assert.Equal(["Card.Instance.Write"], Scopes(deadLetters[1]));
        Assert.Contains(fixture.Gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 4107
            && e.RenderMessage().Contains("scopes-1", StringComparison.Ordinal) && e.RenderMessage().Contains("Card.Instance.Write", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_robot_card_update_dead_lettered_for_a_missing_permission_names_the_required_scopes()
    {
        var card = new { cardBizId = "scopes-robot", openConversationId = "cidR==", cardData = new { contents = Array.Empty<object>() } };
        await HttpAssert.JsonAsync(await _api.PostAsJsonAsync("/api/robot-cards", card), HttpStatusCode.Created);
        DingTalk.DenyPermissionNext(Put, "/v1.0/im/robots/interactiveCards", ["Card.Instance.Write"], bodyContains: "scopes-robot");

        var refused = await HttpAssert.ProblemAsync(await _api.PutAsJsonAsync("/api/robot-cards/scopes-robot", new { card.cardData }), HttpStatusCode.BadGateway);

        Assert.Equal(["Card.Instance.Write"], Scopes(refused));
        var state = await HttpAssert.JsonAsync(await _api.GetAsync("/api/robot-cards/scopes-robot"), HttpStatusCode.OK);
        Assert.Equal(["Card.Instance.Write"], Scopes(Assert.Single(state.GetProperty("undelivered").EnumerateArray())));
    }

    [Fact]
    public async Task An_expired_token_is_refreshed_once_and_the_call_retried()
    {
        var before = DingTalk.TokenRequests;
        DingTalk.ExpireAllTokens();

        var response = await UpdateAsync(6);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(before + 1, DingTalk.TokenRequests);
        var puts = DingTalk.RequestsTo("/v1.0/card/instances").Where(r => r.Method == "PUT").ToList();
        Assert.Equal([400, 200], puts.Select(r => r.Status));
        Assert.NotEqual(puts[0].AccessToken, puts[1].AccessToken);
    }

    [Fact]
    public async Task A_401_is_treated_as_an_invalid_token_too()
    {
        var before = DingTalk.TokenRequests;
        DingTalk.FailNext(Put, "/v1.0/card/instances", 401, "Unauthorized");

        var response = await UpdateAsync(7);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(before + 1, DingTalk.TokenRequests);
    }

    [Fact]
    public async Task Many_concurrent_sends_share_one_token_fetch()
    {
        await using var gateway = new GatewayFactory(fixture.DingTalk);
        using var api = gateway.CreateAdminClient();
        var before = DingTalk.TokenRequests;

        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = $"many-{i}", userIds = new[] { $"u{i}" }, cardData = new { i } })));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        Assert.Equal(before + 1, DingTalk.TokenRequests);
    }

    [Fact]
    public async Task After_a_dead_letter_the_stored_data_sent_again_restores_the_card_as_the_README_says()
    {
        var created = await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "r-dead", openConversationId = "cidR==", cardData = new { n = 0 } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        DingTalk.FailNext(Put, "/v1.0/card/instances", 403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", "no Card.Instance.Write");
        var refused = await _api.PutAsJsonAsync("/api/cards/r-dead", new { cardData = new { n = 1, title = "lost" } });
        Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);

        // A later update is not held back by the dead letter; it carries only its own keys.
        Assert.Equal(HttpStatusCode.NoContent, (await _api.PutAsJsonAsync("/api/cards/r-dead", new { cardData = new { n = 2 } })).StatusCode);
        Assert.Equal("2", DingTalk.FindCard("r-dead")!.CardData["n"]);
        Assert.False(DingTalk.FindCard("r-dead")!.CardData.ContainsKey("title"));

        // The permission fixed, the operator sends the stored data again: GET, then PUT its publicData.
        var state = await HttpAssert.JsonAsync(await _api.GetAsync("/api/cards/r-dead"), HttpStatusCode.OK);
        Assert.Contains(state.GetProperty("undelivered").EnumerateArray(), e => e.GetProperty("status").GetString() == "Dead");
        var resent = await _api.PutAsJsonAsync("/api/cards/r-dead", new { cardData = state.GetProperty("card").GetProperty("publicData") });

        Assert.Equal(HttpStatusCode.NoContent, resent.StatusCode);
        var card = DingTalk.FindCard("r-dead")!.CardData;
        Assert.Equal("lost", card["title"]);
        Assert.Equal("2", card["n"]);
    }

    [Fact]
    public async Task Updates_queued_while_DingTalk_is_down_go_out_as_one_call_and_every_entry_is_marked_sent()
    {
        // A card of its own: the others' dead letters stay on r-1.
        var created = await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "r-fold", openConversationId = "cidR==", cardData = new { n = 0 } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        DingTalk.FailNext(Put, "/v1.0/card/instances", 503, "ServiceUnavailable", times: 100_000);

        // More entries than the dispatcher marks in one write, each with a key of its own, so losing any one shows.
        const int Updates = 150;
        var responses = await Task.WhenAll(Enumerable.Range(1, Updates).Select(i =>
            _api.PutAsJsonAsync("/api/cards/r-fold", new { cardData = new Dictionary<string, int> { [$"k{i}"] = i } })));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));

        DingTalk.ClearFaults();
        await Tests.Callbacks.Eventually.TrueAsync(
            async () => (await HttpAssert.JsonAsync(await _api.GetAsync("/api/cards/r-fold"), HttpStatusCode.OK)).GetProperty("undelivered").GetArrayLength() == 0,
            "every queued entry marked sent after recovery");

        var delivered = Assert.Single(DingTalk.RequestsTo("/v1.0/card/instances"), r => r.Method == "PUT" && r.Status == 200);
        var card = DingTalk.FindCard("r-fold")!.CardData;
        Assert.All(Enumerable.Range(1, Updates), i => Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), card.GetValueOrDefault($"k{i}")));
        Assert.Contains("\"k1\"", delivered.Body, StringComparison.Ordinal); // the first and the last entry, in that one call
        Assert.Contains($"\"k{Updates}\"", delivered.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_client_side_limiter_keeps_each_api_under_its_QPS()
    {
        var arrivals = await StreamFramesAtOnceAsync(permitsPerSecond: 5, frames: 12);

        // In any one-second window the fake saw at most the configured 5 calls (plus one for clock granularity).
        var busiest = arrivals.Max(start => arrivals.Count(t => t >= start && t < start.AddSeconds(1)));
        Assert.InRange(busiest, 1, 6);
    }

    [Fact]
    public async Task The_client_side_limiter_paces_calls_instead_of_letting_a_burst_go_and_then_stalling()
    {
        // 10 a second: a bucket of 1, refilled 9 times a second. A one-second window limiter would let all 8 calls
        // below go at once, and a ninth… only a second later: the stall a busy card's updates used to wait out.
        var arrivals = await StreamFramesAtOnceAsync(permitsPerSecond: 10, frames: 8);

        // Paced: in any 300 ms, the bucket's one call plus what 300 ms refill (2.7), and one for the refill's 100 ms steps.
        var busiest = arrivals.Max(start => arrivals.Count(t => t >= start && t < start.AddMilliseconds(300)));
        Assert.InRange(busiest, 1, 4);
    }

    [Fact]
    public async Task Forty_cards_updated_at_once_all_arrive_without_tripping_DingTalks_QPS_limit()
    {
        // The fake refuses a 21st call to one API within a second, as DingTalk does; the client-side limiter keeps the
        // gateway under it, so none of the 80 calls below is refused. 16 a second here rather than the default 18: a
        // pause of this 2-core machine can bunch a few paced calls up on their way, and the test is about the limiter,
        // not about how much room the default leaves (a refusal would be retried after ThrottleDelay anyway).
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?> { ["DingTalk:Outbound:PermitsPerSecondPerApi"] = "16" });
        using var api = gateway.CreateAdminClient();
        var cards = Enumerable.Range(0, 40).Select(i => $"qps-{i}").ToList();
        foreach (var card in cards)
        {
            var created = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.qps", outTrackId = card, openConversationId = "cidTest==", cardData = new { } });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var before = DingTalk.RequestsTo("/v1.0/card/instances").Count;
        var responses = await Task.WhenAll(cards.Select(card => api.PutAsJsonAsync($"/api/cards/{card}", new { cardData = new { n = 1 } })));

        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.Accepted, $"PUT answered {r.StatusCode}"));
        await Tests.Callbacks.Eventually.TrueAsync(() => cards.All(c => DingTalk.FindCard(c)?.CardData.GetValueOrDefault("n") == "1"), "all 40 updates at the fake");
        var puts = DingTalk.RequestsTo("/v1.0/card/instances").Skip(before).Where(r => r.Method == "PUT").ToList();
        Assert.Equal(40, puts.Count);
        Assert.All(puts, r => Assert.Equal(200, r.Status));
        Assert.DoesNotContain(DingTalk.Requests, r => r.Status == 403);
    }

    /// <summary>
    /// <paramref name="frames"/> streaming frames posted at once through a gateway allowed <paramref name="permitsPerSecond"/>
    /// calls a second per API; when each reached the fake, in order.
    /// </summary>
    private async Task<List<DateTimeOffset>> StreamFramesAtOnceAsync(int permitsPerSecond, int frames)
    {
        await using var gateway = new GatewayFactory(
            fixture.DingTalk, new Dictionary<string, string?> { ["DingTalk:Outbound:PermitsPerSecondPerApi"] = $"{permitsPerSecond}" });
        using var api = gateway.CreateAdminClient();
        await api.PostAsJsonAsync("/api/cards/r-1/stream", new { key = "content", content = "warm-up" }); // fetch the token first

        // A frame a card: frames to one card go at the card's pace (StreamFrameInterval), well under any QPS limit.
        var cards = Enumerable.Range(0, frames).Select(i => $"qps-frame-{i}").ToList();
        foreach (var card in cards)
        {
            var created = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = card, openConversationId = "cidR==", cardData = new { } });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var before = DingTalk.RequestsTo("/v1.0/card/streaming").Count;
        var responses = await Task.WhenAll(cards.Select((card, i) => api.PostAsJsonAsync($"/api/cards/{card}/stream", new { key = "content", content = $"frame {i}" })));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.NoContent, r.StatusCode));
        var arrivals = DingTalk.RequestsTo("/v1.0/card/streaming").Skip(before).Select(r => r.At).Order().ToList();
        Assert.Equal(frames, arrivals.Count);
        return arrivals;
    }

    [Fact]
    public async Task A_card_created_whose_answer_was_lost_is_reported_created_unconfirmed_not_refused_by_its_retry()
    {
        // A gateway of its own: the lost answer (a 504) must not count toward the shared gateway's circuit breaker.
        await using var gateway = new GatewayFactory(fixture.DingTalk);
        using var api = gateway.CreateAdminClient();
        const string CreatePath = "/v1.0/card/instances/createAndDeliver";
        DingTalk.LoseAnswerNext(HttpMethod.Post, CreatePath, bodyContains: "lost-1");

        var response = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "lost-1", openConversationId = "cidR==", cardData = new { n = 0 } });

        var body = await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        Assert.False(body.GetProperty("deliveryConfirmed").GetBoolean());
        Assert.False(body.GetProperty("allDelivered").GetBoolean());
        Assert.Empty(body.GetProperty("deliverResults").EnumerateArray());
        Assert.Equal([504, 400], DingTalk.RequestsTo(CreatePath).Where(r => r.Body.Contains("lost-1", StringComparison.Ordinal)).Select(r => r.Status));
        Assert.Single(DingTalk.FindCard("lost-1")!.Deliveries); // created and delivered once, by the first attempt
        Assert.Contains(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 1102 && e.RenderMessage().Contains("lost-1", StringComparison.Ordinal));

        // Stored like any card the gateway sent: its updates and callbacks work.
        var stored = await api.GetAsync("/api/cards/lost-1");
        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        var update = await api.PutAsJsonAsync("/api/cards/lost-1", new { cardData = new { n = 1 } });
        Assert.Equal(HttpStatusCode.NoContent, update.StatusCode);
        Assert.Equal("1", DingTalk.FindCard("lost-1")!.CardData["n"]);
    }

    [Fact]
    public async Task A_card_whose_send_never_learned_its_fate_is_stored_unconfirmed_and_its_retry_is_reported_created()
    {
        // A gateway of its own, one retry: its circuit breaker must not count these failures for the other tests.
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?> { ["DingTalk:Outbound:MaxRetryAttempts"] = "1" });
        using var api = gateway.CreateAdminClient();
        const string CreatePath = "/v1.0/card/instances/createAndDeliver";
        DingTalk.LoseAnswerNext(HttpMethod.Post, CreatePath, bodyContains: "fate-1"); // created, its answer lost…
        DingTalk.FailNext(HttpMethod.Post, CreatePath, 503, "ServiceUnavailable", retryAfterSeconds: 0, bodyContains: "fate-1"); // …and the retry too
        var send = new { cardTemplateId = "tpl", outTrackId = "fate-1", openConversationId = "cidR==", cardData = new { n = 0 } };

        var first = await api.PostAsJsonAsync("/api/cards", send);

        await HttpAssert.ProblemAsync(first, HttpStatusCode.ServiceUnavailable);
        Assert.NotNull(DingTalk.FindCard("fate-1")); // in the chat…
        var unconfirmed = await HttpAssert.JsonAsync(await api.GetAsync("/api/cards/fate-1"), HttpStatusCode.OK);
        Assert.False(unconfirmed.GetProperty("card").GetProperty("creationConfirmed").GetBoolean()); // …and known to the gateway

        // The operator sends it again: DingTalk has it, and this gateway knows its earlier send may have made it.
        var retry = await api.PostAsJsonAsync("/api/cards", send);

        var body = await HttpAssert.JsonAsync(retry, HttpStatusCode.Created);
        Assert.False(body.GetProperty("deliveryConfirmed").GetBoolean());
        Assert.Single(DingTalk.FindCard("fate-1")!.Deliveries);
        Assert.Contains(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 1103 && e.RenderMessage().Contains("fate-1", StringComparison.Ordinal));
        var confirmed = await HttpAssert.JsonAsync(await api.GetAsync("/api/cards/fate-1"), HttpStatusCode.OK);
        Assert.True(confirmed.GetProperty("card").GetProperty("creationConfirmed").GetBoolean());

        // Confirmed now: the same id sent once more is an operator re-using an id, refused as before.
        var again = await api.PostAsJsonAsync("/api/cards", send);
        Assert.Equal("param.outTrackIdExist", (await HttpAssert.ProblemAsync(again, HttpStatusCode.UnprocessableEntity)).GetProperty("dingTalkCode").GetString());
    }

    [Fact]
    public async Task An_update_of_a_card_whose_creation_DingTalk_has_not_done_yet_waits_for_it_instead_of_being_dead_lettered()
    {
        // A gateway of its own: the 503 must not count toward the shared one's circuit breaker. DingTalk is busy: the
        // create is retried 2 s later, and an operator's update comes meanwhile, for a card DingTalk does not have yet.
        await using var gateway = new GatewayFactory(fixture.DingTalk);
        using var api = gateway.CreateAdminClient();
        const string CreatePath = "/v1.0/card/instances/createAndDeliver";
        DingTalk.FailNext(HttpMethod.Post, CreatePath, 503, "ServiceUnavailable", retryAfterSeconds: 2, bodyContains: "early-1");

        var creating = api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "early-1", openConversationId = "cidR==", cardData = new { n = 0, title = "T" } });
        await Eventually.TrueAsync(async () => (await api.GetAsync("/api/cards/early-1")).StatusCode == HttpStatusCode.OK, "the card stored before DingTalk is asked");
        var update = await api.PutAsJsonAsync("/api/cards/early-1", new { cardData = new { n = 1 } });

        Assert.Contains(update.StatusCode, new[] { HttpStatusCode.NoContent, HttpStatusCode.Accepted }); // not DingTalk's "no such card"
        Assert.Equal(HttpStatusCode.Created, (await creating).StatusCode);
        await Eventually.TrueAsync(() => DingTalk.FindCard("early-1")?.CardData.GetValueOrDefault("n") == "1", "the update delivered once the card exists");
        Assert.Equal("T", DingTalk.FindCard("early-1")!.CardData["title"]);
        var state = await HttpAssert.JsonAsync(await api.GetAsync("/api/cards/early-1"), HttpStatusCode.OK);
        Assert.Empty(state.GetProperty("undelivered").EnumerateArray());
    }

    [Fact]
    public async Task An_update_of_a_robot_card_whose_send_DingTalk_has_not_done_yet_waits_for_it_instead_of_being_dead_lettered()
    {
        // The robot send throttled (429, retried 2 s later: DingTalk did nothing), and an operator's update meanwhile.
        await using var gateway = new GatewayFactory(fixture.DingTalk);
        using var api = gateway.CreateAdminClient();
        DingTalk.FailNext(HttpMethod.Post, "/v1.0/im/v1.0/robot/interactiveCards/send", 429, "system.busy", retryAfterSeconds: 2, bodyContains: "early-robot");

        var sending = api.PostAsJsonAsync("/api/robot-cards", new { cardBizId = "early-robot", openConversationId = "cidR==", cardData = new { contents = Array.Empty<object>() } });
        await Eventually.TrueAsync(async () => (await api.GetAsync("/api/robot-cards/early-robot")).StatusCode == HttpStatusCode.OK, "the card stored before DingTalk is asked");
        var update = await api.PutAsJsonAsync("/api/robot-cards/early-robot", new { cardData = new { a = 1 } });

        Assert.Contains(update.StatusCode, new[] { HttpStatusCode.NoContent, HttpStatusCode.Accepted }); // not DingTalk's "no such card"
        Assert.Equal(HttpStatusCode.Created, (await sending).StatusCode);
        await Eventually.TrueAsync(() => DingTalk.FindRobotCard("early-robot")?.CardData?.Contains("\"a\":1", StringComparison.Ordinal) == true, "the update delivered once the card exists");
    }

    [Fact]
    public async Task A_card_DingTalk_refuses_to_create_leaves_no_card_behind()
    {
        DingTalk.FailNext(HttpMethod.Post, "/v1.0/card/instances/createAndDeliver", 400, "param.templateNotExist", bodyContains: "no-such-template");
        DingTalk.FailNext(HttpMethod.Post, "/v1.0/im/v1.0/robot/interactiveCards/send", 400, "param.illegal", bodyContains: "robot-refused");

        var advanced = await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "no-such-template", openConversationId = "cidR==" });
        var robot = await _api.PostAsJsonAsync("/api/robot-cards", new { cardBizId = "robot-refused", openConversationId = "cidR==", cardData = new { contents = Array.Empty<object>() } });

        await HttpAssert.ProblemAsync(advanced, HttpStatusCode.UnprocessableEntity);
        await HttpAssert.ProblemAsync(robot, HttpStatusCode.UnprocessableEntity);
        Assert.Equal(HttpStatusCode.NotFound, (await _api.GetAsync("/api/cards/no-such-template")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _api.GetAsync("/api/robot-cards/robot-refused")).StatusCode);
    }

    [Fact]
    public async Task A_card_id_already_taken_is_still_refused_when_no_earlier_attempt_could_have_taken_it()
    {
        // r-1 exists (InitializeAsync); a throttled first attempt was refused before DingTalk did anything.
        DingTalk.FailNext(HttpMethod.Post, "/v1.0/card/instances/createAndDeliver", 403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi");

        var response = await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "r-1", openConversationId = "cidR==", cardData = new { n = 0 } });

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.UnprocessableEntity);
        Assert.Equal("param.outTrackIdExist", problem.GetProperty("dingTalkCode").GetString());
        Assert.Equal([403, 400], DingTalk.RequestsTo("/v1.0/card/instances/createAndDeliver").Where(r => r.Body.Contains("\"r-1\"", StringComparison.Ordinal)).Select(r => r.Status).TakeLast(2));
    }

    [Fact]
    public async Task A_robot_card_whose_send_answer_was_lost_is_sent_once_and_reported_unconfirmed()
    {
        // DingTalk carries the send out and its answer is lost; it has no "already exists" for a cardBizId, so a retry
        // could post the card twice. A gateway of its own: the 504 must not count toward the shared one's circuit breaker.
        await using var gateway = new GatewayFactory(fixture.DingTalk);
        using var api = gateway.CreateAdminClient();
        const string SendPath = "/v1.0/im/v1.0/robot/interactiveCards/send";
        DingTalk.LoseAnswerNext(HttpMethod.Post, SendPath, bodyContains: "lost-robot-1");

        var response = await api.PostAsJsonAsync("/api/robot-cards", new { cardBizId = "lost-robot-1", openConversationId = "cidR==", cardData = new { contents = Array.Empty<object>() } });

        var body = await HttpAssert.JsonAsync(response, HttpStatusCode.Accepted);
        Assert.False(body.GetProperty("deliveryConfirmed").GetBoolean());
        Assert.False(body.TryGetProperty("processQueryKey", out _));
        Assert.Equal("/api/robot-cards/lost-robot-1", response.Headers.Location?.OriginalString);
        Assert.Equal([504], DingTalk.RequestsTo(SendPath).Where(r => r.Body.Contains("lost-robot-1", StringComparison.Ordinal)).Select(r => r.Status));
        Assert.Contains(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 1104 && e.RenderMessage().Contains("lost-robot-1", StringComparison.Ordinal));

        // Stored, shown unconfirmed, and its clicks are handled: it did arrive.
        var stored = await HttpAssert.JsonAsync(await api.GetAsync("/api/robot-cards/lost-robot-1"), HttpStatusCode.OK);
        Assert.False(stored.GetProperty("card").GetProperty("creationConfirmed").GetBoolean());
        var path = new Uri(DingTalk.FindRobotCard("lost-robot-1")!.CallbackUrl!).AbsolutePath;
        using var click = await gateway.CreateClient().SendAsync(
            DingTalkCallback.Post(path, System.Text.Encoding.UTF8.GetBytes(DingTalkCallback.RobotBody("lost-robot-1", "manager1", new { action = "approve" }))));
        var answer = await HttpAssert.JsonAsync(click, HttpStatusCode.OK);
        Assert.Equal("approved", answer.GetProperty("cardData").GetProperty("cardParamMap").GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_robot_card_whose_send_answer_was_lost_is_sent_again_only_when_the_request_says_so()
    {
        await using var gateway = new GatewayFactory(fixture.DingTalk); // its own: see above
        using var api = gateway.CreateAdminClient();
        const string SendPath = "/v1.0/im/v1.0/robot/interactiveCards/send";
        // DingTalk fails it with a 503 (as it can after doing the work, or before): whether it is in the chat is unknown.
        DingTalk.FailNext(HttpMethod.Post, SendPath, 503, "ServiceUnavailable", bodyContains: "lost-robot-2");
        var card = new { cardBizId = "lost-robot-2", openConversationId = "cidR==", cardData = new { contents = Array.Empty<object>() } };
        await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/robot-cards", card), HttpStatusCode.Accepted);

        // An operator's retry (or a second click on "send") would show the card twice: refused, saying what to do.
        var again = await HttpAssert.ProblemAsync(await api.PostAsJsonAsync("/api/robot-cards", card), HttpStatusCode.Conflict);
        Assert.Contains("resendUnconfirmed", again.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Single(DingTalk.RequestsTo(SendPath), r => r.Body.Contains("lost-robot-2", StringComparison.Ordinal));

        // The chat does not show it (this 503 came before the work): sent again, once, and confirmed.
        var resent = await api.PostAsJsonAsync("/api/robot-cards", new { card.cardBizId, card.openConversationId, card.cardData, resendUnconfirmed = true });
        await HttpAssert.JsonAsync(resent, HttpStatusCode.Created);
        Assert.Equal([503, 200], DingTalk.RequestsTo(SendPath).Where(r => r.Body.Contains("lost-robot-2", StringComparison.Ordinal)).Select(r => r.Status));
        var stored = await HttpAssert.JsonAsync(await api.GetAsync("/api/robot-cards/lost-robot-2"), HttpStatusCode.OK);
        Assert.True(stored.GetProperty("card").GetProperty("creationConfirmed").GetBoolean());

        // DingTalk has it now: a send under that id again is refused, whatever the request says, and DingTalk is not asked.
        var taken = await HttpAssert.ProblemAsync(
            await api.PostAsJsonAsync("/api/robot-cards", new { card.cardBizId, card.openConversationId, card.cardData, resendUnconfirmed = true }), HttpStatusCode.Conflict);
        Assert.Contains("PUT /api/robot-cards/lost-robot-2", taken.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, DingTalk.RequestsTo(SendPath).Count(r => r.Body.Contains("lost-robot-2", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_throttled_robot_card_send_is_retried_and_arrives_once()
    {
        const string SendPath = "/v1.0/im/v1.0/robot/interactiveCards/send";
        DingTalk.FailNext(HttpMethod.Post, SendPath, 403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", bodyContains: "throttled-robot-1");

        var response = await _api.PostAsJsonAsync("/api/robot-cards", new { cardBizId = "throttled-robot-1", openConversationId = "cidR==", cardData = new { contents = Array.Empty<object>() } });

        var body = await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        Assert.True(body.GetProperty("deliveryConfirmed").GetBoolean());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("processQueryKey").GetString()));
        Assert.Equal([403, 200], DingTalk.RequestsTo(SendPath).Where(r => r.Body.Contains("throttled-robot-1", StringComparison.Ordinal)).Select(r => r.Status));
        var stored = await HttpAssert.JsonAsync(await _api.GetAsync("/api/robot-cards/throttled-robot-1"), HttpStatusCode.OK);
        Assert.True(stored.GetProperty("card").GetProperty("creationConfirmed").GetBoolean());
    }

    private static List<string?> Scopes(System.Text.Json.JsonElement problemOrEntry) =>
        [.. problemOrEntry.GetProperty("requiredScopes").EnumerateArray().Select(s => s.GetString())];

    private Task<HttpResponseMessage> UpdateAsync(int n) => _api.PutAsJsonAsync("/api/cards/r-1", new { cardData = new { n } });

    /// <summary>
    /// A gateway and a card of their own, for a test whose DingTalk fails transiently: the shared gateway's circuit breaker
    /// samples every call of the class, and enough such failures among them (5xx, 429, timeouts; throttling no longer
    /// counts) open it for the next test (seen: the update then refused by the open circuit until the PUT's wait ran out).
    /// </summary>
    private async Task<OwnCard> OwnCardAsync()
    {
        var gateway = new GatewayFactory(fixture.DingTalk);
        var api = gateway.CreateAdminClient();
        var card = $"own-{Guid.NewGuid():N}";
        var created = await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = card, openConversationId = "cidR==", cardData = new { n = 0 } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return new OwnCard(gateway, api, card);
    }

    private sealed record OwnCard(GatewayFactory Gateway, HttpClient Api, string Card) : IAsyncDisposable
    {
        public Task<HttpResponseMessage> UpdateAsync(int n) => Api.PutAsJsonAsync($"/api/cards/{Card}", new { cardData = new { n } });

        public async ValueTask DisposeAsync()
        {
            Api.Dispose();
            await Gateway.DisposeAsync();
        }
    }
}
