using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DingTalk.CardGateway.Hosting;

public static class HealthExtensions
{
    public const string ReadyTag = "ready";

    public static IServiceCollection AddGatewayHealth(this IServiceCollection services)
    {
        services.AddHealthChecks().AddCheck<DingTalkTokenHealthCheck>("dingtalk-token", tags: [ReadyTag]);
        services.AddSingleton<ReadinessLog>();
        return services;
    }

    /// <summary>
    /// <c>/health/live</c>: the process answers. <c>/health/ready</c>: every readiness check passes, with each one's
    /// reason; the log says readiness when it changes (<see cref="ReadinessLog"/>), not at every probe.
    /// </summary>
    public static IEndpointRouteBuilder MapGatewayHealth(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync })
            .ExcludeFromDescription();
        var readiness = app.ServiceProvider.GetRequiredService<ReadinessLog>();
        var ready = new HealthCheckOptions
        {
            Predicate = c => c.Tags.Contains(ReadyTag),
            ResponseWriter = (context, report) =>
            {
                readiness.Observe(report);
                return WriteAsync(context, report);
            },
        };
        app.MapHealthChecks("/health/ready", ready).ExcludeFromDescription();
        return app;
    }

    /// <summary>Probes are logged at Debug whatever they answer: a 503 from every probe of an unready gateway is <see cref="ReadinessLog"/>'s to say, once.</summary>
    public static bool IsProbe(HttpContext context) => context.Request.Path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase);

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, GatewayJson.Options));
    }
}
