using System.Net;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>At startup the gateway registers its callback URL for the route key, and says on /health/ready how that went.</summary>
public class CallbackRegistrationTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>, IAsyncLifetime
{
    private const string RouteKey = "test-route";
    private const string OurUrl = GatewayFactory.PublicBaseUrl + "/dingtalk/callbacks/card";
    private const string Check = "dingtalk-callback-registration";

    private readonly StartedGateways _gateways = new(fixture.DingTalk);

    private FakeDingTalk DingTalk => fixture.DingTalk;

    public Task InitializeAsync()
    {
        DingTalk.State.Reset();
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => _gateways.DisposeAsync().AsTask();

    [Fact]
    public async Task The_public_callback_url_and_secret_are_registered_at_startup_and_the_gateway_becomes_ready()
    {
        var gateway = Start();

        var registered = await Eventually.ValueAsync(() => DingTalk.State.Callbacks.GetValueOrDefault(RouteKey), "the registration");

        Assert.Equal(OurUrl, registered.CallbackUrl);
        Assert.Equal(GatewayFactory.ApiSecret, registered.ApiSecret);
        await ReadinessAsync(gateway, "Healthy", OurUrl);
        Assert.DoesNotContain(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 1105);
    }

    /// <summary>
    /// DingTalk's signature covers the timestamp alone, so over plain http anyone on the path can change what a click
    /// says (its user, its action) and pass the check: allowed (a test rig, a private network), but said once at startup.
    /// </summary>
    [Fact]
    public async Task A_plain_http_public_url_is_registered_with_one_warning_to_use_https()
    {
        var gateway = Start(("DingTalk:Callback:PublicBaseUrl", "http://gateway.example.test"));

        await ReadinessAsync(gateway, "Healthy", "http://gateway.example.test/dingtalk/callbacks/card");

        var warning = Assert.Single(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 1105);
        Assert.Equal(Serilog.Events.LogEventLevel.Warning, warning.Level);
        Assert.Contains("DingTalk:Callback:PublicBaseUrl", warning.RenderMessage(), StringComparison.Ordinal);
        Assert.Contains("https", warning.RenderMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_route_key_registered_by_another_deployment_is_a_conflict_reported_once_and_not_ready()
    {
        DingTalk.State.RegisterCallbackDirectly(RouteKey, "https://other.example/cb", "their-secret-123456");
        var gateway = Start();

        var description = await ReadinessAsync(gateway, "Unhealthy", "other.example");

        Assert.Contains("this gateway gets no HTTP card callbacks", description, StringComparison.Ordinal);
        Assert.Equal("https://other.example/cb", DingTalk.State.Callbacks[RouteKey].CallbackUrl);
        var conflict = Assert.Single(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3202);
        Assert.Equal(Serilog.Events.LogEventLevel.Error, conflict.Level);
        Assert.Contains("ForceUpdate", conflict.RenderMessage(), StringComparison.Ordinal);
        Assert.Contains("the host (other.example, ours gateway.example.test) and path (/cb, ours /dingtalk/callbacks/card) differ", conflict.RenderMessage(), StringComparison.Ordinal);
        Assert.Contains("with an apiSecret other than DingTalk:Callback:ApiSecret: another deployment's", conflict.RenderMessage(), StringComparison.Ordinal);
        Assert.Contains("another deployment's", description, StringComparison.Ordinal);
        Assert.DoesNotContain("their-secret-123456", gateway.RenderedLogs(), StringComparison.Ordinal);
    }

    /// <summary>
    /// PublicBaseUrl moved from http to https (or to a new host name) while the route key still holds the old URL: the
    /// conflict said "another deployment", and the operator could not tell it was their own. It says what differs, and
    /// that the secret is the same, never the secret.
    /// </summary>
    [Fact]
    public async Task A_conflict_with_our_own_earlier_url_says_what_differs_and_that_the_secret_is_ours()
    {
        DingTalk.State.RegisterCallbackDirectly(RouteKey, "http://gateway.example.test/dingtalk/callbacks/card", GatewayFactory.ApiSecret);
        var gateway = Start();

        var description = await ReadinessAsync(gateway, "Unhealthy", "http://gateway.example.test/dingtalk/callbacks/card");

        var conflict = Assert.Single(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3202).RenderMessage();
        Assert.Contains("only the scheme (http, ours https) differs, with the same apiSecret as DingTalk:Callback:ApiSecret", conflict, StringComparison.Ordinal);
        Assert.Contains("this deployment's own earlier registration", conflict, StringComparison.Ordinal);
        Assert.Contains("ForceUpdate", conflict, StringComparison.Ordinal);
        Assert.DoesNotContain("another deployment", conflict, StringComparison.Ordinal);
        Assert.Contains("this deployment's own earlier registration", description, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://gw.example/dingtalk/callbacks/card", true, "only the host (gw.example, ours gateway.example.test) differs, with the same apiSecret")]
    [InlineData("https://gateway.example.test:8443/dingtalk/callbacks/card", false, "only the port (8443, ours 443) differs, with an apiSecret other than")]
    [InlineData("https://gateway.example.test/dingtalk/callbacks/card", false, "the same URL, but with an apiSecret other than DingTalk:Callback:ApiSecret")]
    [InlineData("http://old.example/cb", null, "the scheme (http, ours https), host (old.example, ours gateway.example.test) and path (/cb, ours /dingtalk/callbacks/card) differ, DingTalk did not say its apiSecret")]
    public void A_conflict_says_which_parts_of_the_url_and_whether_the_secret_differ(string registered, bool? sameSecret, string says)
    {
        var comparison = CardGateway.Callbacks.Registration.CallbackRegistrationService.Comparison(registered, OurUrl, sameSecret);

        Assert.StartsWith(says, comparison, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Our_own_earlier_registration_is_renewed_with_the_current_secret()
    {
        DingTalk.State.RegisterCallbackDirectly(RouteKey, OurUrl, "last-years-secret-123456");
        var gateway = Start();

        await ReadinessAsync(gateway, "Healthy", OurUrl);

        Assert.Equal(GatewayFactory.ApiSecret, DingTalk.State.Callbacks[RouteKey].ApiSecret);
    }

    [Fact]
    public async Task Force_update_takes_the_route_key_over()
    {
        DingTalk.State.RegisterCallbackDirectly(RouteKey, "https://other.example/cb", "their-secret-123456");
        var gateway = Start(("DingTalk:Callback:ForceUpdate", "true"));

        await ReadinessAsync(gateway, "Healthy", OurUrl);

        Assert.Equal(OurUrl, DingTalk.State.Callbacks[RouteKey].CallbackUrl);
        Assert.Equal(GatewayFactory.ApiSecret, DingTalk.State.Callbacks[RouteKey].ApiSecret);
    }

    [Fact]
    public async Task DingTalks_route_key_exists_error_is_a_conflict()
    {
        DingTalk.State.FailNext(HttpMethod.Post, "/v1.0/card/callbacks/register", 500, "param.callbackRouteKeyExist", "callbackRouteKey exists", times: 20);
        var gateway = Start();

        await ReadinessAsync(gateway, "Unhealthy", "not " + OurUrl);

        Assert.Single(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3202);
    }

    [Fact]
    public async Task Registration_is_retried_with_backoff_while_DingTalk_is_unavailable()
    {
        DingTalk.State.FailNext(HttpMethod.Post, "/v1.0/card/callbacks/register", 503, "system.busy", "busy", times: 8);
        var gateway = Start(("Gateway:Callbacks:RegistrationRetryDelay", "00:00:00.050"));

        await ReadinessAsync(gateway, "Healthy", OurUrl);

        Assert.Contains(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3203);
        Assert.Equal(OurUrl, DingTalk.State.Callbacks[RouteKey].CallbackUrl);
    }

    /// <summary>The wait was printed as a TimeSpan, "retrying in 00:00:04.1710000"; now in seconds, a number in JSON logs.</summary>
    [Fact]
    public async Task A_failed_registration_attempt_says_its_wait_in_seconds()
    {
        DingTalk.State.FailNext(HttpMethod.Post, "/v1.0/card/callbacks/register", 503, "system.busy", "busy", times: 2);
        var gateway = Start(("Gateway:Callbacks:RegistrationRetryDelay", "00:00:00.300"), ("DingTalk:Outbound:MaxRetryAttempts", "0"));

        await ReadinessAsync(gateway, "Healthy", OurUrl);

        var failed = gateway.LogEvents.Where(e => CardCallbackEndpointTests.EventId(e) == 3203).ToList();
        Assert.Equal(2, failed.Count);
        Assert.EndsWith("retrying in 0.3 s", failed[0].RenderMessage(), StringComparison.Ordinal);
        Assert.Matches(@"retrying in \d+(\.\d)? s$", failed[1].RenderMessage());
        Assert.All(failed, e => Assert.DoesNotContain("00:00:", e.RenderMessage(), StringComparison.Ordinal));
        var seconds = Assert.IsType<Serilog.Events.ScalarValue>(failed[0].Properties["DelaySeconds"]);
        Assert.Equal(0.3, Assert.IsType<double>(seconds.Value), 3);
    }

    [Fact]
    public async Task The_gateway_serves_while_registration_keeps_failing()
    {
        DingTalk.State.FailNext(HttpMethod.Post, "/v1.0/card/callbacks/register", 503, "system.busy", "busy", times: 1000);
        var gateway = Start();
        using var client = gateway.CreateClient();

        using var live = await client.GetAsync("/health/live");

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        await ReadinessAsync(gateway, "Unhealthy", "");
    }

    /// <summary>
    /// A wrong AppSecret fails the token call under the registration: DingTalk's refusal, said as one with the keys to
    /// check, not "DingTalk unreachable" (Refit wraps what the token handler throws, and that wrapper was taken for a
    /// network failure).
    /// </summary>
    [Fact]
    public async Task A_refused_token_call_is_said_as_DingTalks_refusal_naming_the_keys_to_check()
    {
        var gateway = Start(("DingTalk:AppSecret", "not-the-app-secret"), ("Gateway:Callbacks:RegistrationRetryDelay", "00:00:00.050"));

        var description = await ReadinessAsync(gateway, "Unhealthy", "DingTalk answered 400 invalidClientIdOrSecret");

        Assert.Contains("check DingTalk:AppKey and DingTalk:AppSecret", description, StringComparison.Ordinal);
        Assert.DoesNotContain("unreachable", description, StringComparison.Ordinal);
        var failed = await Eventually.ValueAsync(() => gateway.LogEvents.FirstOrDefault(e => CardCallbackEndpointTests.EventId(e) == 3203), "a 3203 warning");
        Assert.DoesNotContain("unreachable", failed.RenderMessage(), StringComparison.Ordinal);
        Assert.Contains("check DingTalk:AppKey and DingTalk:AppSecret", failed.RenderMessage(), StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-app-secret", gateway.RenderedLogs(), StringComparison.Ordinal);
    }

    /// <summary>
    /// An ApiBaseUrl nothing answers at (a typo, no egress): the registration's warning and readiness give the network's
    /// words and the key to check, as the token check does, not Refit's wrapper type ("ApiRequestException: …").
    /// </summary>
    [Fact]
    public async Task An_unreachable_DingTalk_is_said_with_the_networks_words_and_the_key_to_check()
    {
        var port = ClosedPort.Take();
        var gateway = Start(
            ("DingTalk:ApiBaseUrl", $"http://127.0.0.1:{port}/"),
            ("DingTalk:Outbound:MaxRetryAttempts", "0"),
            ("Gateway:Callbacks:RegistrationRetryDelay", "00:00:00.050"));

        var description = await ReadinessAsync(gateway, "Unhealthy", "Connection refused");

        Assert.Contains("check DingTalk:ApiBaseUrl", description, StringComparison.Ordinal);
        Assert.DoesNotContain("ApiRequestException", description, StringComparison.Ordinal);
        var failed = await Eventually.ValueAsync(() => gateway.LogEvents.FirstOrDefault(e => CardCallbackEndpointTests.EventId(e) == 3203), "a 3203 warning");
        Assert.Contains("check DingTalk:ApiBaseUrl", failed.RenderMessage(), StringComparison.Ordinal);
        Assert.DoesNotContain("ApiRequestException", failed.RenderMessage(), StringComparison.Ordinal);
    }

    /// <summary>
    /// Every event logged during a call to DingTalk carries the call's address (the HTTP client's log scope, <c>Uri</c> in
    /// the JSON log): it is DingTalk:ApiBaseUrl's, not the placeholder the clients are built on, which read as a wrong
    /// ApiBaseUrl to whoever was looking for why the token call failed.
    /// </summary>
    [Fact]
    public async Task An_event_logged_during_a_call_to_DingTalk_names_the_address_called()
    {
        var gateway = Start(
            ("DingTalk:AppSecret", "not-the-app-secret"),
            ("Gateway:Callbacks:RegistrationRetryDelay", "00:00:00.050"),
            ("Serilog:MinimumLevel:Default", "Debug"));

        // The token provider's line under the registration (which says the refusal itself, 3203) is Debug 1106.
        var refused = await Eventually.ValueAsync(() => gateway.LogEvents.FirstOrDefault(e => CardCallbackEndpointTests.EventId(e) == 1106), "a 1106 line");

        Assert.True(refused.Properties.TryGetValue("Uri", out var uri), "no Uri in the event's scope");
        Assert.StartsWith($"\"{DingTalk.BaseAddress.ToString().TrimEnd('/')}/v1.0/", uri.ToString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A wrong AppSecret wrote two lines per registration attempt: error 1002 from the token provider and 3203, which
    /// already carries DingTalk's refusal and the keys to check. One line per attempt now; the provider's at Debug (1106).
    /// </summary>
    [Fact]
    public async Task A_refused_token_call_under_the_registration_is_one_line_per_attempt()
    {
        var gateway = Start(
            ("DingTalk:AppSecret", "not-the-app-secret"),
            ("Gateway:Callbacks:RegistrationRetryDelay", "00:00:00.020"),
            ("Gateway:Callbacks:RegistrationRetryMaxDelay", "00:00:00.050"),
            ("Serilog:MinimumLevel:Default", "Debug"));

        await Eventually.TrueAsync(() => Task.FromResult(gateway.LogEvents.Count(e => CardCallbackEndpointTests.EventId(e) == 3203) >= 3), "three failed attempts");

        var attempts = gateway.LogEvents.Where(e => CardCallbackEndpointTests.EventId(e) == 3203).ToList();
        Assert.All(attempts, e => Assert.Contains("invalidClientIdOrSecret", e.RenderMessage(), StringComparison.Ordinal));
        Assert.DoesNotContain(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 1002);
        Assert.Contains(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 1106 && e.Level == Serilog.Events.LogEventLevel.Debug);
    }

    private GatewayFactory Start(params (string Key, string? Value)[] settings)
    {
        var all = new Dictionary<string, string?> { ["DingTalk:Callback:RegisterOnStartup"] = "true" };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        return _gateways.Start(all);
    }

    /// <summary>Waits until the registration check reports <paramref name="status"/>; returns its description.</summary>
    private static async Task<string> ReadinessAsync(GatewayFactory gateway, string status, string mentioning)
    {
        using var client = gateway.CreateClient();
        var description = "";
        await Eventually.TrueAsync(
            async () =>
            {
                using var response = await client.GetAsync("/health/ready");
                using var body = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                var check = body.RootElement.GetProperty("checks").GetProperty(Check);
                description = check.GetProperty("description").GetString() ?? "";
                return check.GetProperty("status").GetString() == status && description.Contains(mentioning, StringComparison.Ordinal);
            },
            $"readiness check {Check} to be {status} mentioning '{mentioning}'");
        return description;
    }
}
