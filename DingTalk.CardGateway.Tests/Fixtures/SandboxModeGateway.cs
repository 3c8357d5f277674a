using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// The gateway as a newcomer's <c>dotnet run</c> starts it: no credentials, so Sandbox mode, on real Kestrel (the
/// emulator is called over a real socket and calls the gateway back over one), with a fresh SQLite file.
/// </summary>
public static class SandboxModeGateway
{
    /// <param name="streamEnabled">Whether the gateway opens the emulator's Stream connection.</param>
    /// <param name="databaseFile">The SQLite file, to start a gateway again on another's: a fresh one when null.</param>
    /// <param name="adminKey">An admin key of the operator's own, in place of the well-known sandbox key: one that must never be echoed.</param>
    /// <param name="logs">Where the gateway's log events go too, for a test to read.</param>
    public static WebApplicationFactory<Program> Start(bool streamEnabled, string? databaseFile = null, string adminKey = "", CapturedLogs? logs = null)
    {
        var gateway = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseEnvironment("Development");
            b.UseSetting("DingTalk:AppKey", "");
            b.UseSetting("Gateway:AdminApiKeys:0", adminKey);
            b.UseSetting("DingTalk:Stream:Enabled", streamEnabled ? "true" : "false");
            b.UseSetting("Gateway:Storage:ConnectionString", $"Data Source={databaseFile ?? Path.Combine(Path.GetTempPath(), $"cg-sandbox-{Guid.NewGuid():N}.db")}");
            if (logs is not null)
            {
                b.ConfigureServices(services => services.AddSingleton<Serilog.Core.ILogEventSink>(logs));
            }
        });
        gateway.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0)); // a free port, not the default 5000
        gateway.StartServer();
        return gateway;
    }
}
