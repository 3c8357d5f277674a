using DingTalk.Sandbox;

namespace DingTalk.CardGateway.Hosting;

public static class SandboxExtensions
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
        }

        return app;
    }
}
