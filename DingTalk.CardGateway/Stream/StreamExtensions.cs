using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Stream;

public static class StreamExtensions
{
    /// <summary>
    /// Stream mode: the connection to DingTalk (a hosted service that does nothing unless
    /// <c>DingTalk:Stream:Enabled</c>), its frame handling, and its readiness check. Card callbacks arriving over it
    /// take the same <see cref="Callbacks.CallbackPipeline"/> as HTTP ones. Needs <see cref="DingTalkClientsExtensions.AddDingTalkClients"/>.
    /// </summary>
    public static IServiceCollection AddDingTalkStream(this IServiceCollection services)
    {
        services.AddGatewayMetrics();
        services.AddSingleton<IValidateOptions<DingTalkOptions>, StreamOptionsValidator>();
        services.AddSingleton<StreamConnectionStatus>();
        services.AddSingleton<StreamFrameHandler>();
        services.AddHostedService<StreamConnectionService>();
        services.AddHealthChecks().AddCheck<StreamHealthCheck>("dingtalk-stream", tags: [HealthExtensions.ReadyTag]);

        // The shared client stack, without the access token: opening a connection authenticates with the app's credentials.
        // Not retried by the stack: the connection loop retries after its own backoff, so a refused or hung open call is one
        // call per attempt, said in 5003, instead of five calls 0.4–3 s apart (or up to a minute of timeouts) per attempt.
        services.AddDingTalkClient<IDingTalkStreamApi>(withToken: false, retried: false);
        return services;
    }
}
