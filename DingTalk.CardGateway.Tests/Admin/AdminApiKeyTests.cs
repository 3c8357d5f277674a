using System.Net;
using System.Net.Http.Json;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

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

    [Fact]
    public async Task Only_the_api_routes_check_a_key()
    {
        var checks = new CountingAuthentication();
        await using var factory = new GatewayFactory(fixture.DingTalk);
        await using var gateway = factory.WithWebHostBuilder(builder => builder.ConfigureServices(services =>
            services.AddSingleton<IAuthenticationService>(provider => checks.Around(ActivatorUtilities.CreateInstance<AuthenticationService>(provider)))));
        using var client = gateway.CreateClient();
        client.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, GatewayFactory.AdminKey);

        var callback = await client.SendAsync(DingTalkCallback.Signed(DingTalkCallback.Body("no-such-card", "u1", new { action = "vote", option = "a" }), GatewayFactory.ApiSecret));
        var health = await client.GetAsync("/health/live");

        Assert.Equal(HttpStatusCode.OK, callback.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(0, checks.Count); // DingTalk's callbacks are signed, not keyed: the key's handler never runs for them

        var api = await client.GetAsync("/api/cards/nothing-known-of"); // (no-such-card has a callback now: that would be a 200)

        Assert.Equal(HttpStatusCode.NotFound, api.StatusCode);
        Assert.True(checks.Count > 0);
    }

    /// <summary>Counts authentications around the real service.</summary>
    private sealed class CountingAuthentication
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public IAuthenticationService Around(IAuthenticationService inner) => new Service(this, inner);

        private sealed class Service(CountingAuthentication counter, IAuthenticationService inner) : IAuthenticationService
        {
            public Task<AuthenticateResult> AuthenticateAsync(HttpContext context, string? scheme)
            {
                Interlocked.Increment(ref counter._count);
                return inner.AuthenticateAsync(context, scheme);
            }

            public Task ChallengeAsync(HttpContext context, string? scheme, AuthenticationProperties? properties) => inner.ChallengeAsync(context, scheme, properties);

            public Task ForbidAsync(HttpContext context, string? scheme, AuthenticationProperties? properties) => inner.ForbidAsync(context, scheme, properties);

            public Task SignInAsync(HttpContext context, string? scheme, System.Security.Claims.ClaimsPrincipal principal, AuthenticationProperties? properties) =>
                inner.SignInAsync(context, scheme, principal, properties);

            public Task SignOutAsync(HttpContext context, string? scheme, AuthenticationProperties? properties) => inner.SignOutAsync(context, scheme, properties);
        }
    }
}
