using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Refit;

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
        services.AddSingleton<IValidateOptions<DingTalkOptions>, StreamOptionsValidator>();
        services.AddSingleton<StreamConnectionStatus>();
        services.AddSingleton<StreamFrameHandler>();
        services.AddHostedService<StreamConnectionService>();
        services.AddHealthChecks().AddCheck<StreamHealthCheck>("dingtalk-stream", tags: [HealthExtensions.ReadyTag]);

        // Same stack as the OpenAPI clients (resilience, rate limit), minus the access token: this call authenticates with the app's credentials.
        var settings = new RefitSettings
        {
            ContentSerializer = new SystemTextJsonContentSerializer(GatewayJson.Options),
            ExceptionFactory = async response => response.IsSuccessStatusCode
                ? null
                : await DingTalkErrorReader.ToExceptionAsync(response, CancellationToken.None),
        };
        var api = services.AddRefitGeneratedClient<IDingTalkStreamApi>(settings)
            .ConfigureHttpClient((sp, client) =>
            {
                client.BaseAddress = sp.GetRequiredService<DingTalkEndpoint>().BaseAddress;
                client.DefaultRequestHeaders.Accept.ParseAdd("application/json"); // else DingTalk's gateway may answer XML
                client.DefaultRequestHeaders.UserAgent.ParseAdd($"DingTalk.CardGateway/{typeof(StreamExtensions).Assembly.GetName().Version}");
                client.Timeout = Timeout.InfiniteTimeSpan; // the resilience pipeline owns timeouts
            });
        api.AddStandardResilienceHandler()
            .Configure((options, sp) => DingTalkResilience.Configure(options, sp.GetRequiredService<IOptions<DingTalkOptions>>().Value.Outbound));
        api.AddHttpMessageHandler<ApiRateLimitingHandler>();
        return services;
    }
}
