using DingTalk.CardGateway.Cards;
using DingTalk.Sandbox;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Hosting;

public static partial class SandboxExtensions
{
    /// <summary>In Sandbox mode, the DingTalk emulator, accepting the gateway's own (sandbox) credentials.</summary>
    public static IServiceCollection AddGatewaySandbox(this IServiceCollection services, IConfiguration configuration)
    {
        // Only what decides the mode, read as text: a malformed value elsewhere in the section is reported with the
        // other configuration problems when the gateway starts, in one line, not thrown from here with a stack trace.
        var section = configuration.GetSection(DingTalkOptions.Section);
        var options = new DingTalkOptions
        {
            AppKey = section[nameof(DingTalkOptions.AppKey)],
            AppSecret = section[nameof(DingTalkOptions.AppSecret)],
            Mode = Enum.TryParse<GatewayMode>(section[nameof(DingTalkOptions.Mode)], ignoreCase: true, out var mode) ? mode : null,
        };
        SandboxDefaults.Apply(options);
        if (options.EffectiveMode == GatewayMode.Sandbox)
        {
            services.AddDingTalkSandbox(o =>
            {
                o.AppKey = options.AppKey!;
                o.AppSecret = options.AppSecret!;
            });

            // Reads the emulator's cards back in its StartAsync: before the server listens, so before any call reaches the emulator.
            services.AddHostedService<SandboxPersistence>();
        }

        return services;
    }

    /// <summary>Mounts the emulator under <c>/sandbox</c> in Sandbox mode.</summary>
    public static IEndpointRouteBuilder MapGatewaySandbox(this IEndpointRouteBuilder app)
    {
        // Registered by AddGatewaySandbox only in Sandbox mode; options are not read here, before they are validated.
        if (app.ServiceProvider.GetService<SandboxState>() is not null)
        {
            app.MapDingTalkSandbox("/sandbox").ExcludeFromDescription();
            var services = app.ServiceProvider;
            services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.Register(() => SayWhereItIs(services));
        }

        return app;
    }

    /// <summary>
    /// The card page's own reading of the cards, <c>GET /sandbox/cards</c>, every second while it is open: logged at Debug
    /// like a health probe unless it fails, or the default level gets 3,600 request lines an hour of it.
    /// </summary>
    public static bool IsCardPagePoll(HttpContext context) =>
        HttpMethods.IsGet(context.Request.Method)
        && context.Request.Path.Equals("/sandbox/cards", StringComparison.OrdinalIgnoreCase)
        && context.Response.StatusCode < 400;

    /// <summary>
    /// Where the card page is, for whoever started <c>dotnet run</c> before reading the README. The emulator is called
    /// over the host's own socket (<see cref="DingTalkEndpoint"/>): WebApplicationFactory's in-memory TestServer has none,
    /// and every call to DingTalk then failed as "unreachable" with nothing saying why.
    /// </summary>
    private static void SayWhereItIs(IServiceProvider services)
    {
        var server = services.GetRequiredService<IServer>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SandboxExtensions).FullName!);
        if (server.Features.Get<IServerAddressesFeature>()?.Addresses is { Count: > 0 })
        {
            Log.CardPage(logger, DingTalkEndpoint.SelfAddress(server));
        }
        else if (services.GetRequiredService<IOptions<DingTalkOptions>>().Value.ApiBaseUrl == DingTalkEndpoint.DefaultApiBaseUrl)
        {
            Log.NoSocket(logger);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(7004, LogLevel.Warning, "Sandbox mode: this host listens on no socket (WebApplicationFactory's in-memory TestServer?), so the gateway cannot call its emulated DingTalk under /sandbox and every call to DingTalk fails as unreachable (POST /api/cards answers 503). Start it on one: factory.UseKestrel(k => k.Listen(IPAddress.Loopback, 0)); factory.StartServer(); (README, Testing a handler)")]
        public static partial void NoSocket(ILogger logger);

        [LoggerMessage(7005, LogLevel.Information, "Sandbox mode: DingTalk is emulated in this process. See and click its cards at {Address:l}/sandbox/; send one from {Address:l}/swagger")]
        public static partial void CardPage(ILogger logger, string address);
    }
}
