using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Hosting;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;
using Serilog.Events;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// The gateway in Live mode, in process, pointed at a <see cref="FakeDingTalk"/> on a real loopback socket.
/// Retry delays are shortened so resilience tests run fast; everything else is as configured in production.
/// </summary>
public sealed class GatewayFactory(FakeDingTalk dingTalk, IReadOnlyDictionary<string, string?>? settings = null) : WebApplicationFactory<Program>
{
    public const string AdminKey = "test-admin-key-0123456789";
    public const string ApiSecret = "test-api-secret-0123456789";
    public const string PublicBaseUrl = "https://gateway.example.test";

    private readonly CapturedLogs _logs = new();
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"cg-gateway-{Guid.NewGuid():N}.db");

    public FakeDingTalk DingTalk => dingTalk;

    /// <summary>Every log event the gateway wrote, after secret masking.</summary>
    public IReadOnlyCollection<LogEvent> LogEvents => _logs.Events;

    /// <summary>A Live gateway against <paramref name="dingTalk"/>: its credentials, our test secrets and admin key, JSON logs.</summary>
    public static Dictionary<string, string?> LiveSettings(FakeDingTalk dingTalk) => new()
    {
        ["DingTalk:Mode"] = "Live",
        ["DingTalk:AppKey"] = dingTalk.Options.AppKey,
        ["DingTalk:AppSecret"] = dingTalk.Options.AppSecret,
        ["DingTalk:RobotCode"] = "test-robot",
        ["DingTalk:ApiBaseUrl"] = dingTalk.BaseAddress.ToString(),
        ["DingTalk:Callback:PublicBaseUrl"] = PublicBaseUrl,
        ["DingTalk:Callback:ApiSecret"] = ApiSecret,
        ["DingTalk:Callback:RouteKey"] = "test-route",
        ["DingTalk:Callback:RegisterOnStartup"] = "false",
        ["Gateway:AdminApiKeys:0"] = AdminKey,
        ["Gateway:LogFormat"] = "Json",
    };

    /// <summary>
    /// <paramref name="settings"/> (none by default) with the gateway's storage on the PostgreSQL database at
    /// <paramref name="connectionString"/>: for a <see cref="GatewayFactory"/> or a <see cref="GatewayProcess"/>.
    /// </summary>
    public static Dictionary<string, string?> PostgresSettings(string connectionString, IReadOnlyDictionary<string, string?>? settings = null) =>
        new(settings ?? new Dictionary<string, string?>())
        {
            ["Gateway:Storage:Provider"] = StorageOptions.Postgres,
            ["Gateway:Storage:ConnectionString"] = connectionString,
        };

    public HttpClient CreateAdminClient()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, AdminKey);
        return client;
    }

    /// <summary>All log output rendered as text, the way a sink would write it.</summary>
    public string RenderedLogs() => string.Join('\n', _logs.Events.Select(e =>
        e.RenderMessage() + " " + string.Join(' ', e.Properties.Select(p => $"{p.Key}={p.Value}")) + " " + e.Exception));

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        var defaults = LiveSettings(dingTalk);
        foreach (var (key, value) in new Dictionary<string, string?>
        {
            ["DingTalk:Outbound:RetryBaseDelay"] = "00:00:00.010",
            ["DingTalk:Outbound:ThrottleDelay"] = "00:00:00.050",
            ["Gateway:Storage:Provider"] = "Sqlite",
            ["Gateway:Storage:ConnectionString"] = $"Data Source={_database}",
            ["Gateway:Outbox:PollInterval"] = "00:00:00.020",
            ["Gateway:Outbox:RetryBaseDelay"] = "00:00:00.050",
            ["Gateway:Outbox:RetryMaxDelay"] = "00:00:00.500",
        })
        {
            defaults[key] = value;
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            defaults[key] = value;
        }

        foreach (var (key, value) in defaults)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureServices(services => services.AddSingleton<ILogEventSink>(_logs));
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteFiles.Delete(_database);
    }
}
