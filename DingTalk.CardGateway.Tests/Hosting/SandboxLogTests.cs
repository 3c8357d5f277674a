using System.Net;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Events;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>What a healthy Sandbox run logs at the default level: what happened, named by its own call, without the card page's polling.</summary>
public sealed class SandboxLogTests : IAsyncLifetime
{
    private readonly CapturedLogs _logs = new();
    private WebApplicationFactory<Program> _gateway = null!;

    public Task InitializeAsync()
    {
        _gateway = SandboxModeGateway.Start(streamEnabled: false, logs: _logs);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    /// <summary>
    /// The token is fetched for the first call that needs one, the callback registration here, and once for every caller
    /// waiting: its line (1001) carried that call's HTTP scope, <c>"Uri":"http://dingtalk.invalid/v1.0/card/callbacks/register"</c>.
    /// It names the token call, at the address it went to.
    /// </summary>
    [Fact]
    public async Task The_token_fetch_line_names_the_token_call_at_its_real_address()
    {
        var fetched = await Eventually.ValueAsync(() => _logs.Events.FirstOrDefault(e => CardCallbackEndpointTests.EventId(e) == 1001), "the token fetched");
        await Eventually.TrueAsync(() => _logs.Events.Any(e => CardCallbackEndpointTests.EventId(e) == 3201), "the callbacks registered with it");

        var properties = string.Join(' ', fetched.Properties.Select(p => $"{p.Key}={p.Value}"));
        Assert.DoesNotContain("dingtalk.invalid", properties, StringComparison.Ordinal);
        Assert.DoesNotContain("/callbacks/register", properties, StringComparison.Ordinal);
        Assert.True(fetched.Properties.TryGetValue("Uri", out var uri), "no Uri: " + properties);
        var address = _gateway.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.Single();
        Assert.Equal($"\"{address.TrimEnd('/')}/sandbox/v1.0/oauth2/accessToken\"", uri.ToString());
    }

    /// <summary>The card page reads <c>GET /sandbox/cards</c> every second while it is open: 3,600 request lines an hour.</summary>
    [Fact]
    public async Task The_card_pages_polling_is_not_logged_at_information_but_a_sandbox_request_that_fails_is()
    {
        using var client = _gateway.CreateClient();
        for (var poll = 0; poll < 3; poll++)
        {
            (await client.GetAsync("/sandbox/cards")).EnsureSuccessStatusCode();
        }

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/sandbox/no-such-api")).StatusCode);

        // The request log writes a request's line before the next request starts: the 404's line is written after the polls'.
        await Eventually.TrueAsync(() => _logs.Events.Any(e => RequestPath(e) == "/sandbox/no-such-api" && e.Level == LogEventLevel.Information), "the 404 logged at Information");
        Assert.DoesNotContain(_logs.Events, e => RequestPath(e) == "/sandbox/cards" && e.Level >= LogEventLevel.Information);
    }

    private static string? RequestPath(LogEvent e) =>
        e.Properties.TryGetValue("RequestPath", out var path) && path is ScalarValue { Value: string value } && e.Properties.ContainsKey("StatusCode") ? value : null;
}
