using System.Threading.RateLimiting;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Http.Resilience;
using Refit;

namespace DingTalk.CardGateway.Cards;

public static class DingTalkClientsExtensions
{
    /// <summary>
    /// The Refit clients for DingTalk's OpenAPI, each behind: access token → resilience → rate limit.
    /// Errors surface as <see cref="DingTalkApiException"/>.
    /// </summary>
    public static IServiceCollection AddDingTalkClients(this IServiceCollection services)
    {
        services.AddSingleton<DingTalkEndpoint>();
        services.AddSingleton<AccessTokenProvider>();
        services.AddSingleton(sp => ApiRateLimitingHandler.Create(sp.GetRequiredService<IOptions<DingTalkOptions>>().Value.Outbound));
        services.AddSingleton<SharedApiPace>();
        services.AddTransient<DingTalkBaseAddressHandler>();
        services.AddTransient<AccessTokenHandler>();
        services.AddTransient<ApiRateLimitingHandler>();
        services.AddTransient<UncertainAttemptHandler>();
        services.AddTransient<LeaseFenceHandler>();

        services.Configure<Polly.Telemetry.TelemetryOptions>(o => o.SeverityProvider = DingTalkResilience.Severity);
        services.AddDingTalkClient<IDingTalkOAuthApi>(withToken: false);
        services.AddDingTalkClient<IDingTalkCardApi>(withToken: true);
        services.AddDingTalkClient<IDingTalkRobotApi>(withToken: true);
        services.AddSingleton<CardSender>();
        return services;
    }

    /// <summary>
    /// One Refit client for a DingTalk API on the shared stack: base address per request, the access token unless
    /// <paramref name="withToken"/> is false (the token and Stream-open calls authenticate with the app's credentials),
    /// resilience, rate limit, the outbox's lease fence (<see cref="LeaseFenceHandler"/>), a mark on attempts whose fate is unknown (<see cref="UncertainAttemptHandler"/>), and DingTalk's errors as <see cref="DingTalkApiException"/>.
    /// <c>retried: false</c> for a caller that retries on its own schedule (the Stream connection's open call, paced by its
    /// reconnect backoff): each call is then one attempt, bounded by <c>DingTalk:Outbound:AttemptTimeout</c>.
    /// </summary>
    public static IHttpClientBuilder AddDingTalkClient<TApi>(this IServiceCollection services, bool withToken, bool retried = true)
        where TApi : class
    {
        var builder = services.AddRefitGeneratedClient<TApi>(sp => Settings(sp.GetRequiredService<SecretMasker>()))
            .ConfigureHttpClient((sp, client) =>
            {
                // Known from the configuration, the real base, so the HTTP client's log scope (Uri) names the address
                // called; else (Sandbox mode's own /sandbox) DingTalkBaseAddressHandler puts it on each request.
                var configured = DingTalkEndpoint.Configured(sp.GetRequiredService<IOptions<DingTalkOptions>>().Value);
                client.BaseAddress = configured is null ? DingTalkBaseAddressHandler.Placeholder : new Uri(configured.ToString().TrimEnd('/'));
                client.DefaultRequestHeaders.Accept.ParseAdd("application/json");
                client.DefaultRequestHeaders.UserAgent.ParseAdd($"DingTalk.CardGateway/{typeof(DingTalkClientsExtensions).Assembly.GetName().Version}");
                client.Timeout = Timeout.InfiniteTimeSpan; // the resilience pipeline owns timeouts
            });
        builder.AddHttpMessageHandler<DingTalkBaseAddressHandler>();
        if (withToken)
        {
            builder.AddHttpMessageHandler<AccessTokenHandler>();
        }

        builder.AddStandardResilienceHandler()
            .Configure((options, sp) => DingTalkResilience.Configure(options, sp.GetRequiredService<IOptions<DingTalkOptions>>().Value.Outbound, retried));
        builder.AddHttpMessageHandler<ApiRateLimitingHandler>();
        builder.AddHttpMessageHandler<LeaseFenceHandler>();
        builder.AddHttpMessageHandler<UncertainAttemptHandler>();
        return builder;
    }

    private static readonly SystemTextJsonContentSerializer Serializer = new(GatewayJson.Options);

    /// <remarks>
    /// DingTalk's error message is masked of the process's secrets as it becomes an exception: from there it reaches the
    /// caller's problem details, a dead letter's <c>lastError</c> and readiness, none of which the log masking covers.
    /// </remarks>
    private static RefitSettings Settings(SecretMasker masker) => new()
    {
        ContentSerializer = Serializer,
        ExceptionFactory = async response => response.IsSuccessStatusCode
            ? null
            : await DingTalkErrorReader.ToExceptionAsync(response, masker, CancellationToken.None),
        DeserializationExceptionFactory = (response, exception) => ValueTask.FromResult<Exception?>(DingTalkErrorReader.Unreadable(response, exception, masker)),
    };
}
