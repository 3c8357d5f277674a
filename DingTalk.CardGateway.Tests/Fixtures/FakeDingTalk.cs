using System.Net;
using DingTalk.Sandbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// The fake DingTalk OpenAPI (<see cref="DingTalk.Sandbox"/>) on a real Kestrel socket at 127.0.0.1 and a
/// random port, so the gateway's real HttpClient stack (and the official Node SDK) talk to it over the wire.
/// </summary>
public sealed class FakeDingTalk : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeDingTalk(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
        State = app.Services.GetRequiredService<SandboxState>();
        Options = app.Services.GetRequiredService<SandboxOptions>();
    }

    /// <summary>Where the fake listens, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; }

    public SandboxState State { get; }

    public SandboxOptions Options { get; }

    /// <param name="configure">App credentials and token lifetime.</param>
    /// <param name="timeProvider">The sandbox's clock (token expiry, request times); the system clock by default.</param>
    public static async Task<FakeDingTalk> StartAsync(Action<SandboxOptions>? configure = null, TimeProvider? timeProvider = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        if (timeProvider is not null)
        {
            builder.Services.AddSingleton(timeProvider);
        }

        builder.Services.AddDingTalkSandbox(configure);

        var app = builder.Build();
        app.MapDingTalkSandbox("");
        await app.StartAsync();

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return new FakeDingTalk(app, new Uri(address.TrimEnd('/') + "/"));
    }

    /// <summary>A plain client with <see cref="BaseAddress"/> set; the caller disposes it.</summary>
    public HttpClient CreateClient() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
