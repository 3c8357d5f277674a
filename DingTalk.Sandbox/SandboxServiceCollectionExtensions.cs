using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace DingTalk.Sandbox;

public static class SandboxServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="SandboxOptions"/> and the singleton <see cref="SandboxState"/> behind the fake
    /// DingTalk endpoints (and its <see cref="Stream.SandboxStream"/>). The state uses the registered <see cref="TimeProvider"/>, else the system clock.
    /// </summary>
    public static IServiceCollection AddDingTalkSandbox(this IServiceCollection services, Action<SandboxOptions>? configure = null)
    {
        var options = services.AddOptions<SandboxOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<SandboxOptions>>().Value);
        services.TryAddSingleton(sp => new SandboxState(
            sp.GetRequiredService<SandboxOptions>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System));
        services.TryAddSingleton(sp => sp.GetRequiredService<SandboxState>().Stream); // disposed with the host: closes its sockets
        services.TryAddSingleton(sp => new SandboxClicker(sp.GetRequiredService<SandboxState>()));
        return services;
    }
}
