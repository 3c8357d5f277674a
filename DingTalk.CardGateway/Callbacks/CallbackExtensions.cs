using DingTalk.CardGateway.Callbacks.Registration;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Callbacks;

public static class CallbackExtensions
{
    public const string BareBenchEndpointKey = "Gateway:Bench:BareEndpoint";

    /// <summary>Receiving card callbacks: verification, the pipeline, the record of callbacks, and registration at startup.</summary>
    public static IServiceCollection AddCardCallbacks(this IServiceCollection services)
    {
        services.AddGatewayMetrics();
        services.AddSingleton<CallbackBaseUrl>();
        services.AddOptionsWithValidateOnStart<CallbackHandlingOptions>().BindConfiguration(CallbackHandlingOptions.Section);
        services.AddSingleton<IValidateOptions<CallbackHandlingOptions>, CallbackHandlingOptionsValidator>();
        services.AddSingleton<CallbackPipeline>();
        services.AddSingleton<StopDelay>();
        services.AddHostedService(sp => sp.GetRequiredService<StopDelay>()); // its StoppingAsync runs before Kestrel stops listening
        services.AddHealthChecks().Add(new HealthCheckRegistration("stopping", sp => sp.GetRequiredService<StopDelay>(), failureStatus: null, tags: [HealthExtensions.ReadyTag]));
        services.AddSingleton<AnsweredEarlyJournal>();
        services.AddHostedService<AnsweredEarlyRecovery>();
        services.AddSingleton<HttpCallbackSlots>();
        services.AddSingleton<PreviousSecretUse>();
        services.AddSingleton<CardCallbackEndpoint>();
        services.AddSingleton<RobotCardCallbackEndpoint>();

        services.AddSingleton<CallbackRegistrationStatus>();
        services.AddHostedService<CallbackRegistrationService>();
        services.AddHealthChecks().AddCheck<CallbackRegistrationHealthCheck>("dingtalk-callback-registration", tags: [HealthExtensions.ReadyTag]);
        return services;
    }

    /// <summary>The two routes DingTalk calls, kept out of the OpenAPI document (they are not for operators).</summary>
    public static IEndpointRouteBuilder MapCardCallbacks(this IEndpointRouteBuilder app)
    {
        app.MapPost(CardCallbackEndpoint.Path, (HttpContext http, CardCallbackEndpoint endpoint) => endpoint.HandleAsync(http))
            .ExcludeFromDescription();
        app.MapPost(RobotCardCallbackEndpoint.Path, (HttpContext http, string token, RobotCardCallbackEndpoint endpoint) => endpoint.HandleAsync(http, token))
            .ExcludeFromDescription();

        if (app.ServiceProvider.GetRequiredService<IConfiguration>().GetValue<bool>(BareBenchEndpointKey))
        {
            // The benchmark's baseline: the same host and middleware, no work.
            app.MapPost("/bench/bare", () => Results.Text("{}", "application/json")).ExcludeFromDescription();
        }

        return app;
    }
}
