using Serilog;
using Serilog.Formatting.Compact;

namespace DingTalk.CardGateway.Hosting;

public static class LoggingExtensions
{
    /// <summary>
    /// Serilog: readable console text in Development, compact JSON elsewhere (the container), or as
    /// <c>Gateway:LogFormat</c> says; every property masked of secrets; request logging with correlation ids.
    /// </summary>
    public static WebApplicationBuilder AddGatewayLogging(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SecretMasker>();
        builder.Services.AddSingleton<Serilog.Core.ILogEventEnricher, SecretMaskingEnricher>();
        var json = builder.Configuration["Gateway:LogFormat"] is { } format
            ? string.Equals(format, "Json", StringComparison.OrdinalIgnoreCase)
            : !builder.Environment.IsDevelopment();
        builder.Services.AddSerilog((services, logger) =>
        {
            logger.ReadFrom.Configuration(builder.Configuration)
                .ReadFrom.Services(services)
                .Enrich.FromLogContext();
            if (json)
            {
                logger.WriteTo.Console(new RenderedCompactJsonFormatter());
            }
            else
            {
                logger.WriteTo.Console(outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj} {CorrelationId}{NewLine}{Exception}");
            }
        }, preserveStaticLogger: true); // one logger per host: no process-wide Log.Logger for tests to trip over
        return builder;
    }

    /// <summary>Request logging, with a correlation id taken from <c>X-Correlation-Id</c> or made up, echoed back.</summary>
    public static WebApplication UseGatewayRequestLogging(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            var id = context.Request.Headers[CorrelationHeader].ToString();
            if (string.IsNullOrWhiteSpace(id) || id.Length > 64)
            {
                id = context.TraceIdentifier;
            }

            context.Response.Headers[CorrelationHeader] = id;
            using (Serilog.Context.LogContext.PushProperty("CorrelationId", id))
            {
                await next(context);
            }
        });
        app.UseSerilogRequestLogging(o => o.Logger = app.Services.GetRequiredService<Serilog.ILogger>());
        return app;
    }

    public const string CorrelationHeader = "X-Correlation-Id";
}
