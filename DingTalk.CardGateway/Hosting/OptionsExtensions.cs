using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Hosting;

public static class OptionsExtensions
{
    /// <summary>Binds <c>DingTalk</c> and <c>Gateway</c>, fills Sandbox defaults, and validates at startup.</summary>
    public static IServiceCollection AddGatewayOptions(this IServiceCollection services)
    {
        services.AddSingleton<StopReport>();
        services.AddOptionsWithValidateOnStart<DingTalkOptions>()
            .BindConfiguration(DingTalkOptions.Section)
            .PostConfigure(SandboxDefaults.Apply);
        services.AddSingleton<IValidateOptions<DingTalkOptions>, DingTalkOptionsRangeValidator>();
        services.AddSingleton<IValidateOptions<DingTalkOptions>, DingTalkOptionsValidator>();
        services.AddOptionsWithValidateOnStart<GatewayOptions>().BindConfiguration(GatewayOptions.Section);
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        services.AddSingleton(TimeProvider.System);
        return services;
    }
}
