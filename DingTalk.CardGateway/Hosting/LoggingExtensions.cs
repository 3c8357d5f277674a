using Serilog;

namespace DingTalk.CardGateway.Hosting;

public static class LoggingExtensions
{
    public const string LogFormatKey = "Gateway:LogFormat";

    /// <summary>
    /// Serilog: readable console text in Development, compact JSON elsewhere (the container), or as
    /// <c>Gateway:LogFormat</c> says; every property masked of secrets (and, in text, its control characters escaped);
    /// request logging with correlation ids.
    /// </summary>
    public static WebApplicationBuilder AddGatewayLogging(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SecretMasker>();
        builder.Services.AddSingleton<Serilog.Core.ILogEventEnricher, SecretMaskingEnricher>();
        var json = builder.Configuration[LogFormatKey] is { } format
            ? string.Equals(format, "Json", StringComparison.OrdinalIgnoreCase)
            : !builder.Environment.IsDevelopment();
        builder.Services.AddSerilog((services, logger) =>
        {
            // The health-check framework logs every unhealthy check of every probe at Error: ReadinessLog says readiness
            // when it changes instead. Before the configuration, so a Serilog:MinimumLevel:Override of it still wins.
            logger.MinimumLevel.Override(HealthCheckCategory, Serilog.Events.LogEventLevel.Fatal)
                .ReadFrom.Configuration(builder.Configuration)
                .ReadFrom.Services(services)
                .Enrich.FromLogContext()
                // RunGatewayAsync says it in one line and exits 1, instead of the host's error with Kestrel's stack trace.
                .Filter.ByExcluding(e => RunExtensions.IsAddressInUse(e.Exception)
                    && e.Properties.TryGetValue("SourceContext", out var source)
                    && source is Serilog.Events.ScalarValue { Value: "Microsoft.Extensions.Hosting.Internal.Host" });
            if (json)
            {
                logger.WriteTo.Console(JsonFormatter);
            }
            else
            {
                // Values are written as they came: a caller's line break or terminal escape would forge a line or a colour.
                logger.WriteTo.Sink(Serilog.Configuration.LoggerSinkConfiguration.Wrap(
                    ForTextConsole,
                    to => to.Console(outputTemplate: TextTemplate)));
            }
        }, preserveStaticLogger: true); // one logger per host: no process-wide Log.Logger for tests to trip over
        return builder;
    }

    /// <summary>A JSON log line: Serilog's rendered compact JSON, its message written as the text format's.</summary>
    internal static Serilog.Formatting.ITextFormatter JsonFormatter { get; } = new LiteralMessageJsonFormatter();

    /// <summary>
    /// A text log line, <c>[09:17:45 WRN 3101] DingTalk.CardGateway.…: message 0HN…:00000001</c>, the event id and the
    /// correlation id only when it has them (<see cref="TextLineSink"/>); the exception, if any, on the lines after it.
    /// </summary>
    internal const string TextTemplate = "[{Timestamp:HH:mm:ss} {Level:u3}{" + TextLineSink.EventIdText + "}] {SourceContext}: {Message:lj}{" + TextLineSink.CorrelationIdText + "}{NewLine}{Exception}";

    /// <summary>What stands between the events and the text console: control characters escaped, the line's optional parts.</summary>
    internal static Serilog.Core.ILogEventSink ForTextConsole(Serilog.Core.ILogEventSink console) =>
        new ControlCharacterEscapingSink(new TextLineSink(console));

    /// <summary>Request logging, with a correlation id taken from <c>X-Correlation-Id</c> or made up, echoed back.</summary>
    public static WebApplication UseGatewayRequestLogging(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            var id = context.Request.Headers[CorrelationHeader].ToString();
            if (id.Length is 0 or > 64 || id.AsSpan().ContainsAnyExcept(CorrelationCharacters))
            {
                id = context.TraceIdentifier;
            }

            // When the headers leave, not now: the exception handler clears the response before it writes its problem.
            context.Response.OnStarting(
                static state =>
                {
                    var (http, correlationId) = ((HttpContext, string))state;
                    http.Response.Headers[CorrelationHeader] = correlationId;
                    return Task.CompletedTask;
                },
                (context, id));
            using (Serilog.Context.LogContext.PushProperty("CorrelationId", id))
            {
                await next(context);
            }
        });
        app.UseSerilogRequestLogging(o =>
        {
            o.Logger = app.Services.GetRequiredService<Serilog.ILogger>();
            o.GetLevel = RequestLevel;
        });
        return app;
    }

    /// <summary>The health-check framework's category: its line for each unhealthy check of each probe.</summary>
    internal const string HealthCheckCategory = "Microsoft.Extensions.Diagnostics.HealthChecks";

    /// <summary>
    /// Serilog's levels (Error for an exception or a 5xx, else Information), except a health probe's (Debug unless it threw)
    /// and the Sandbox card page's polling (Debug unless it failed).
    /// </summary>
    internal static Serilog.Events.LogEventLevel RequestLevel(HttpContext context, double elapsedMs, Exception? exception) =>
        exception is not null ? Serilog.Events.LogEventLevel.Error
        : HealthExtensions.IsProbe(context) || SandboxExtensions.IsCardPagePoll(context) ? Serilog.Events.LogEventLevel.Debug
        : context.Response.StatusCode > 499 ? Serilog.Events.LogEventLevel.Error
        : Serilog.Events.LogEventLevel.Information;

    public const string CorrelationHeader = "X-Correlation-Id";

    /// <summary>What a caller's correlation id may hold to be echoed and logged as it is; anything else gets the request's own id.</summary>
    private static readonly System.Buffers.SearchValues<char> CorrelationCharacters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:");
}
