using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace DingTalk.CardGateway.Hosting;

public static class TelemetryExtensions
{
    /// <summary>The standard OpenTelemetry setting that turns the OTLP export on (and says where to).</summary>
    public const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The gateway's meter (<see cref="GatewayMetrics"/>), always there for <c>dotnet-counters</c> and tests.</summary>
    public static IServiceCollection AddGatewayMetrics(this IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton<GatewayMetrics>();
        return services;
    }

    /// <summary>
    /// The gateway's metrics, and — when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set — their export over OTLP with
    /// ASP.NET Core's, Kestrel's, HttpClient's and the runtime's own, configured by the standard <c>OTEL_*</c>
    /// settings (<c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, <c>OTEL_EXPORTER_OTLP_HEADERS</c>, <c>OTEL_METRIC_EXPORT_INTERVAL</c>,
    /// <c>OTEL_SERVICE_NAME</c>, …). Without it nothing is exported and the OpenTelemetry SDK is not started.
    /// </summary>
    public static WebApplicationBuilder AddGatewayTelemetry(this WebApplicationBuilder builder)
    {
        builder.Services.AddGatewayMetrics();
        if (string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointKey]))
        {
            return builder;
        }

        // An explicit service name would win over OTEL_SERVICE_NAME: take it from there when it is set.
        var serviceName = builder.Configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } named ? named : "dingtalk-cardgateway";
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName, autoGenerateServiceInstanceId: true))
            .WithMetrics(metrics => metrics
                .AddMeter(GatewayMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Net.Http", "System.Runtime")
                .AddOtlpExporter());
        return builder;
    }
}
