using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// The gateway as a newcomer's <c>dotnet run</c> starts it: no credentials, so Sandbox mode, on real Kestrel (the
/// emulator is called over a real socket and calls the gateway back over one), with a fresh SQLite file.
/// </summary>
public static class SandboxModeGateway
{
    public static WebApplicationFactory<Program> Start(bool streamEnabled)
    {
        var gateway = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseEnvironment("Development");
            b.UseSetting("DingTalk:AppKey", "");
            b.UseSetting("Gateway:AdminApiKeys:0", "");
            b.UseSetting("DingTalk:Stream:Enabled", streamEnabled ? "true" : "false");
            b.UseSetting("Gateway:Storage:ConnectionString", $"Data Source={Path.Combine(Path.GetTempPath(), $"cg-sandbox-{Guid.NewGuid():N}.db")}");
        });
        gateway.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0)); // a free port, not the default 5000
        gateway.StartServer();
        return gateway;
    }
}
