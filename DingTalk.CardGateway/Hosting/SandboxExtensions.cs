using DingTalk.Sandbox;

namespace DingTalk.CardGateway.Hosting;

public static class SandboxExtensions
{
    /// <summary>In Sandbox mode, the DingTalk emulator, accepting the gateway's own (sandbox) credentials.</summary>
    public static IServiceCollection AddGatewaySandbox(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection(DingTalkOptions.Section).Get<DingTalkOptions>() ?? new DingTalkOptions();
        SandboxDefaults.Apply(options);
        if (options.EffectiveMode == GatewayMode.Sandbox)
        {
            services.AddDingTalkSandbox(o =>
            {
                o.AppKey = options.AppKey!;
                o.AppSecret = options.AppSecret!;
            });
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
