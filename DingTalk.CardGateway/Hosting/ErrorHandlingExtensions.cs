using Microsoft.AspNetCore.Http.Json;

namespace DingTalk.CardGateway.Hosting;

public static class ErrorHandlingExtensions
{
    /// <summary>Problem details for every error, the gateway's JSON conventions, and bad bodies as exceptions we can describe.</summary>
    public static IServiceCollection AddGatewayErrorHandling(this IServiceCollection services)
    {
        services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            // Minimal APIs refuse a body that is not JSON with a bare 415; say what they want.
            if (context.ProblemDetails.Status == StatusCodes.Status415UnsupportedMediaType && context.ProblemDetails.Detail is null)
            {
                context.ProblemDetails.Detail = "Send the body as JSON, with Content-Type: application/json.";
            }
        });
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.Configure<JsonOptions>(o =>
        {
            GatewayJson.Apply(o.SerializerOptions);
            // A body naming a property twice is ambiguous, and card data holding one (as JsonElement) failed later where
            // it was read into a dictionary or JsonObject: a 500, or a stored robot card no update could merge into.
            o.SerializerOptions.AllowDuplicateProperties = false;
        });
        // Malformed or mistyped JSON throws BadHttpRequestException, which ProblemExceptionHandler explains.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        return services;
    }

    public static WebApplication UseGatewayErrorHandling(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            // ProblemExceptionHandler logs what deserves it (5xx at Error); a caller's bad request is not worth a stack.
            SuppressDiagnosticsCallback = _ => true,
        });
        app.UseStatusCodePages();
        return app;
    }
}
