using System.Net;
using System.Net.Http.Json;
using System.Text;
using DingTalk.CardGateway.Tests.Fixtures;
using Serilog.Events;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// Rotating <c>DingTalk:Callback:ApiSecret</c>: the secrets listed in <c>DingTalk:Callback:PreviousApiSecrets</c> are still
/// accepted (advanced-card signatures, robot-card URL tokens) but never used to sign, mint or register, and a route key
/// registered under one of them is ours, updated without <c>ForceUpdate</c>.
/// </summary>
public class SecretRotationTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>, IAsyncLifetime
{
    private const string Old = GatewayFactory.ApiSecret;
    private const string New = "rotated-api-secret-9876543210";
    private const string RouteKey = "test-route";
    private const string OurUrl = GatewayFactory.PublicBaseUrl + "/dingtalk/callbacks/card";

    private readonly StartedGateways _gateways = new(fixture.DingTalk);

    private FakeDingTalk DingTalk => fixture.DingTalk;

    public Task InitializeAsync()
    {
        DingTalk.State.Reset();
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => _gateways.DisposeAsync().AsTask();

    [Fact]
    public async Task A_robot_card_sent_before_the_rotation_answers_clicks_while_its_secret_is_listed_as_previous()
    {
        var before = Start(Old);
        var path = await SendRobotCardAsync(before, "rotation-robot");
        var rotated = Start(New, Old);
        var dropped = Start(New);

        Assert.Equal(HttpStatusCode.OK, await ClickRobotCardAsync(rotated, path, "rotation-robot", "u1"));
        Assert.Equal(HttpStatusCode.OK, await ClickRobotCardAsync(rotated, path, "rotation-robot", "u2"));
        Assert.Equal(HttpStatusCode.Unauthorized, await ClickRobotCardAsync(dropped, path, "rotation-robot", "u1"));

        // Said once (at most once an hour), naming the previous secret by position, never by value.
        var said = Assert.Single(rotated.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3122);
        Assert.Equal(LogEventLevel.Information, said.Level);
        Assert.Equal("0", CardCallbackEndpointTests.Property(said, "PreviousIndex"));
        Assert.Equal("1", CardCallbackEndpointTests.Property(said, "Clicks"));
        Assert.Contains("DingTalk:Callback:PreviousApiSecrets:0", said.RenderMessage(), StringComparison.Ordinal);
        Assert.DoesNotContain(Old, rotated.RenderedLogs(), StringComparison.Ordinal);

        // A card sent after the rotation carries a token minted under the new secret only.
        var after = await SendRobotCardAsync(rotated, "rotation-robot-2");
        Assert.Equal(HttpStatusCode.OK, await ClickRobotCardAsync(dropped, after, "rotation-robot-2", "u1"));
        Assert.Equal(HttpStatusCode.Unauthorized, await ClickRobotCardAsync(before, after, "rotation-robot-2", "u1"));
    }

    [Fact]
    public async Task An_advanced_card_click_signed_with_a_previous_secret_is_accepted_and_said_once_an_hour()
    {
        var rotated = Start(New, "an-older-secret-000000", Old);
        var unlisted = Start(New);

        Assert.Equal(HttpStatusCode.OK, await ClickAsync(rotated, "rotation-card", "u1", Old));
        Assert.Equal(HttpStatusCode.OK, await ClickAsync(rotated, "rotation-card", "u2", Old));
        Assert.Equal(HttpStatusCode.OK, await ClickAsync(rotated, "rotation-card", "u3", New));
        Assert.Equal(HttpStatusCode.Unauthorized, await ClickAsync(rotated, "rotation-card", "u4", "not-one-of-ours-123456"));
        Assert.Equal(HttpStatusCode.Unauthorized, await ClickAsync(unlisted, "rotation-card", "u1", Old));

        var refused = Assert.Single(rotated.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3001).RenderMessage();
        Assert.Contains("not signed with DingTalk:Callback:ApiSecret nor any of DingTalk:Callback:PreviousApiSecrets", refused, StringComparison.Ordinal);
        var said = Assert.Single(rotated.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3121);
        Assert.Equal(LogEventLevel.Information, said.Level);
        Assert.Equal("1", CardCallbackEndpointTests.Property(said, "PreviousIndex"));
        Assert.Contains("DingTalk:Callback:PreviousApiSecrets:1", said.RenderMessage(), StringComparison.Ordinal);
        var logs = rotated.RenderedLogs();
        Assert.DoesNotContain(Old, logs, StringComparison.Ordinal);
        Assert.DoesNotContain("an-older-secret-000000", logs, StringComparison.Ordinal);
    }

    /// <summary>
    /// DingTalk keeps a route key's registration unless told to overwrite it (the stricter reading of its sources): a
    /// replica with the new secret found the key under the old one, said "another deployment owns it" (3202) and was never
    /// ready. Under a secret it lists as previous, the registration is its own: updated, without ForceUpdate.
    /// </summary>
    [Fact]
    public async Task A_route_key_registered_with_a_previous_secret_is_updated_without_force_update()
    {
        DingTalk.State.KeepsRegistrationsWithoutForceUpdate = true;
        DingTalk.State.RegisterCallbackDirectly(RouteKey, OurUrl, Old);

        var gateway = Start(New, "an-older-secret-000000", Old);

        await ReadyAsync(gateway);
        Assert.Equal(New, DingTalk.State.Callbacks[RouteKey].ApiSecret);
        Assert.Equal(OurUrl, DingTalk.State.Callbacks[RouteKey].CallbackUrl);
        var rotating = Assert.Single(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3204);
        Assert.Equal("1", CardCallbackEndpointTests.Property(rotating, "PreviousIndex"));
        Assert.DoesNotContain(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3202);
        Assert.DoesNotContain(Old, gateway.RenderedLogs(), StringComparison.Ordinal);
        Assert.DoesNotContain(New, gateway.RenderedLogs(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://gateway.example.test/dingtalk/callbacks/card", "their-secret-123456", "the same URL, but with an apiSecret other than DingTalk:Callback:ApiSecret")]
    [InlineData("https://other.example/cb", "their-secret-123456", "with an apiSecret other than DingTalk:Callback:ApiSecret: another deployment's")]
    [InlineData("https://other.example/cb", Old, "with the apiSecret of DingTalk:Callback:PreviousApiSecrets:0: most likely this deployment's own earlier registration")]
    public async Task A_route_key_registered_with_an_unrelated_secret_or_elsewhere_is_still_a_conflict(string url, string secret, string says)
    {
        DingTalk.State.KeepsRegistrationsWithoutForceUpdate = true;
        DingTalk.State.RegisterCallbackDirectly(RouteKey, url, secret);

        var gateway = Start(New, Old);

        var conflict = await Eventually.ValueAsync(() => gateway.LogEvents.FirstOrDefault(e => CardCallbackEndpointTests.EventId(e) == 3202), "a 3202 conflict");
        Assert.Contains(says, conflict.RenderMessage(), StringComparison.Ordinal);
        Assert.Equal((url, secret), (DingTalk.State.Callbacks[RouteKey].CallbackUrl, DingTalk.State.Callbacks[RouteKey].ApiSecret));
        Assert.DoesNotContain(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3204);
        Assert.DoesNotContain(secret, gateway.RenderedLogs(), StringComparison.Ordinal);
    }

    /// <summary>DingTalk kept a previous secret even when told to overwrite it: not "this gateway refuses" its signatures, it does not.</summary>
    [Fact]
    public void A_previous_secret_kept_at_our_url_is_said_to_be_still_accepted()
    {
        var comparison = CardGateway.Callbacks.Registration.CallbackRegistrationService.Comparison(
            OurUrl, OurUrl, CardGateway.Callbacks.Registration.RegisteredSecret.Previous, 2);

        Assert.Equal(
            "the same URL, but with the apiSecret of DingTalk:Callback:PreviousApiSecrets:2, which DingTalk kept even when asked to overwrite it: this gateway still accepts its signatures",
            comparison);
    }

    /// <summary>
    /// The README's rotation, replica by replica, on one PostgreSQL and a DingTalk that keeps registrations unless told to
    /// overwrite them: before, two replicas on the old secret; step 1 rolls each to the old secret with the new one listed
    /// as previous (accepted, not registered); step 2 rolls each to the new secret with the old one listed as previous (the
    /// first registers it: DingTalk signs with it from then on). At every moment every running replica is clicked with
    /// every secret DingTalk has signed with so far (a click signed just before the switch arrives just after), and every
    /// robot card sent so far: no click is refused.
    /// </summary>
    [SkippableFact]
    public async Task A_rolling_rotation_refuses_no_click_at_any_step()
    {
        DingTalk.State.KeepsRegistrationsWithoutForceUpdate = true;
        await PostgresServer.WithDatabaseAsync(async database =>
        {
            var signedWith = new List<string> { Old };
            var robotCards = new List<(string CardBizId, string Path)>();
            var running = new List<GatewayFactory>();
            var clicks = 0;
            async Task EveryClickPassesAsync(string moment)
            {
                foreach (var replica in running)
                {
                    foreach (var secret in signedWith)
                    {
                        Assert.True(HttpStatusCode.OK == await ClickAsync(replica, "rolling-poll", $"u{++clicks}", secret), $"{moment}: an advanced-card click refused");
                    }

                    foreach (var (cardBizId, path) in robotCards)
                    {
                        Assert.True(HttpStatusCode.OK == await ClickRobotCardAsync(replica, path, cardBizId, $"u{++clicks}"), $"{moment}: a click on robot card {cardBizId} refused");
                    }
                }
            }

            async Task<GatewayFactory> RollInAsync(string apiSecret, string previous)
            {
                var replica = StartOn(database, apiSecret, previous);
                await ReadyAsync(replica);
                running.Add(replica);
                return replica;
            }

            async Task RollOutAsync(GatewayFactory replica)
            {
                running.Remove(replica);
                await _gateways.StopAsync(replica);
            }

            var before1 = await RollInAsync(Old, previous: "");
            var before2 = await RollInAsync(Old, previous: "");
            using (var api = before1.CreateAdminClient())
            {
                await HttpAssert.JsonAsync(
                    await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = "rolling-poll", openConversationId = "cidRolling==", cardData = new { title = "t" } }),
                    HttpStatusCode.Created);
            }

            robotCards.Add(("rolling-robot-old", await SendRobotCardAsync(before1, "rolling-robot-old")));
            await EveryClickPassesAsync("before");

            // Step 1: the new secret accepted everywhere before anything registers it.
            var step1a = await RollInAsync(Old, previous: New);
            await EveryClickPassesAsync("step 1, one replica rolled");
            await RollOutAsync(before1);
            var step1b = await RollInAsync(Old, previous: New);
            await RollOutAsync(before2);
            Assert.Equal(Old, DingTalk.State.Callbacks[RouteKey].ApiSecret);
            await EveryClickPassesAsync("step 1 done");

            // Step 2: the first replica on the new secret registers it.
            var step2a = await RollInAsync(New, previous: Old);
            Assert.Equal(New, DingTalk.State.Callbacks[RouteKey].ApiSecret);
            signedWith.Add(New);
            robotCards.Add(("rolling-robot-new", await SendRobotCardAsync(step2a, "rolling-robot-new")));
            await EveryClickPassesAsync("step 2, one replica rolled");
            await RollOutAsync(step1a);
            await RollInAsync(New, previous: Old);
            await EveryClickPassesAsync("step 2, two of three rolled");
            await RollOutAsync(step1b);
            await EveryClickPassesAsync("step 2 done");

            Assert.Equal((OurUrl, New), (DingTalk.State.Callbacks[RouteKey].CallbackUrl, DingTalk.State.Callbacks[RouteKey].ApiSecret));
            Assert.Single(step2a.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3204);
            Assert.All(running, replica => Assert.DoesNotContain(replica.LogEvents, e => CardCallbackEndpointTests.EventId(e) is 3202 or 3001 or 3011));
        });
    }

    private GatewayFactory Start(string apiSecret, params string[] previous) => StartOn(database: null, apiSecret, previous);

    private GatewayFactory StartOn(string? database, string apiSecret, params string[] previous)
    {
        var settings = database is null ? [] : GatewayFactory.PostgresSettings(database);
        settings["DingTalk:Callback:ApiSecret"] = apiSecret;
        settings["DingTalk:Callback:RegisterOnStartup"] = "true";
        foreach (var (secret, i) in previous.Where(p => p.Length > 0).Select((p, i) => (p, i)))
        {
            settings[$"DingTalk:Callback:PreviousApiSecrets:{i}"] = secret;
        }

        return _gateways.Start(settings);
    }

    private static async Task ReadyAsync(GatewayFactory gateway)
    {
        using var client = gateway.CreateClient();
        await Eventually.TrueAsync(
            async () =>
            {
                using var response = await client.GetAsync("/health/ready");
                using var body = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                return body.RootElement.GetProperty("checks").GetProperty("dingtalk-callback-registration").GetProperty("status").GetString() == "Healthy";
            },
            "the callback registration to be healthy");
    }

    private static async Task<string> SendRobotCardAsync(GatewayFactory gateway, string cardBizId)
    {
        using var api = gateway.CreateAdminClient();
        var cardData = new { contents = new object[] { new { type = "markdown", text = "Rotate?", id = "intro" } } };
        await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/robot-cards", new { cardBizId, openConversationId = "cidRolling==", cardData }), HttpStatusCode.Created);
        return new Uri(gateway.DingTalk.State.FindRobotCard(cardBizId)!.CallbackUrl!).AbsolutePath;
    }

    private static async Task<HttpStatusCode> ClickAsync(GatewayFactory gateway, string outTrackId, string userId, string signWith)
    {
        using var client = gateway.CreateClient();
        using var response = await client.SendAsync(DingTalkCallback.Signed(DingTalkCallback.Body(outTrackId, userId, new { action = "vote", option = "A" }), signWith));
        return response.StatusCode;
    }

    private static async Task<HttpStatusCode> ClickRobotCardAsync(GatewayFactory gateway, string path, string cardBizId, string userId)
    {
        using var client = gateway.CreateClient();
        using var response = await client.SendAsync(DingTalkCallback.Post(path, Encoding.UTF8.GetBytes(DingTalkCallback.RobotBody(cardBizId, userId, new { action = "vote", option = "A" }))));
        return response.StatusCode;
    }
}
