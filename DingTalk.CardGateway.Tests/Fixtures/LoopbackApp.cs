using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>A test's own server on a real Kestrel socket at 127.0.0.1 and a free port, as the fake DingTalk runs.</summary>
public static class LoopbackApp
{
    /// <summary>A slim builder, its logging off, listening on 127.0.0.1 at a port the system picks.</summary>
    public static WebApplicationBuilder CreateBuilder(WebApplicationOptions? options = null)
    {
        var builder = options is null ? WebApplication.CreateSlimBuilder() : WebApplication.CreateSlimBuilder(options);
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        return builder;
    }

    /// <summary>Where a started app listens, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public static string Address(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
}
