using DingTalk.CardGateway.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Admin;

public static partial class AdminApiExtensions
{
    public const string Policy = "AdminApi";

    /// <summary>The <c>X-Api-Key</c> scheme and the policy every <c>/api</c> route requires.</summary>
    public static IServiceCollection AddAdminApi(this IServiceCollection services)
    {
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(Policy, p => p.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName).RequireAuthenticatedUser());
        services.Replace(ServiceDescriptor.Singleton<IAuthenticationSchemeProvider, NoAuthenticationByDefault>());
        return services;
    }

    /// <summary>
    /// Nothing is authenticated unless a route's policy names its scheme. Otherwise the authentication middleware would
    /// run the key's handler (a new handler, logger and all) on every request, DingTalk's callbacks included — they are
    /// signed, not keyed. The /api routes' policy names the scheme, so they authenticate exactly as before.
    /// </summary>
    private sealed class NoAuthenticationByDefault(IOptions<AuthenticationOptions> options) : AuthenticationSchemeProvider(options)
    {
        public override Task<AuthenticationScheme?> GetDefaultAuthenticateSchemeAsync() => Task.FromResult<AuthenticationScheme?>(null);
    }

    /// <summary>Maps <c>/api/cards</c> and <c>/api/robot-cards</c>, closed unless the caller sends an admin key.</summary>
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        // Every route may answer these problems: no key, a database or DingTalk not reachable (503, Retry-After).
        var api = app.MapGroup("/api").RequireAuthorization(Policy).WithTags("Admin")
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        api.MapCardAdmin();
        api.MapRobotCardAdmin();
        api.MapDeadLetterAdmin();
        api.MapEffectAdmin();
        api.MapCallbackAdmin();
        api.MapHandlerAdmin();
        api.MapStorageAdmin();

        // Said once the host has started, when the options have been validated.
        var services = app.ServiceProvider;
        services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.Register(() =>
        {
            var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("DingTalk.CardGateway.Admin");
            var gateway = services.GetRequiredService<IOptions<GatewayOptions>>().Value;
            var dingTalk = services.GetRequiredService<IOptions<DingTalkOptions>>().Value;
            if (ApiKeyAuthenticationHandler.AcceptedKeys(gateway, dingTalk) is [ApiKeyAuthenticationHandler.SandboxKey])
            {
                Log.SandboxKey(logger, ApiKeyAuthenticationHandler.SandboxKey);
            }
            else if (gateway.AdminApiKeys.All(string.IsNullOrWhiteSpace))
            {
                Log.Closed(logger);
            }
        });

        return app;
    }

    private static partial class Log
    {
        [LoggerMessage(2001, LogLevel.Warning, "The admin API (/api/*) is closed: no Gateway:AdminApiKeys are configured, so every call answers 401")]
        public static partial void Closed(ILogger logger);

        [LoggerMessage(2002, LogLevel.Information, "Sandbox mode with no Gateway:AdminApiKeys: the admin API accepts the well-known key X-Api-Key: {Key}")]
        public static partial void SandboxKey(ILogger logger, string key);
    }
}
