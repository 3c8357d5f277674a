using System.Diagnostics;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Tests.Hosting;

public class StartupValidationTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>
{
    [Theory]
    [InlineData("DingTalk:AppSecret")]
    [InlineData("DingTalk:Callback:PublicBaseUrl")]
    [InlineData("DingTalk:Callback:ApiSecret")]
    public void A_live_configuration_missing_a_key_fails_validation_naming_it(string key)
    {
        var settings = new Dictionary<string, string?>
        {
            ["DingTalk:AppKey"] = "app",
            ["DingTalk:AppSecret"] = "app-secret",
            ["DingTalk:Callback:PublicBaseUrl"] = "https://gw.example",
            ["DingTalk:Callback:ApiSecret"] = "api-secret",
            [key] = "",
        };
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
            .AddGatewayOptions()
            .BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<DingTalkOptions>>().Value);

        var failure = Assert.Single(ex.Failures);
        Assert.Contains(key, failure, StringComparison.Ordinal);
        Assert.Contains(key.Replace(":", "__", StringComparison.Ordinal), failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_mode_needs_no_public_url_or_api_secret()
    {
        await using var gateway = new GatewayFactory(fixture.DingTalk, new Dictionary<string, string?>
        {
            ["DingTalk:Stream:Enabled"] = "true",
            ["DingTalk:Callback:PublicBaseUrl"] = "",
            ["DingTalk:Callback:ApiSecret"] = "",
        });

        using var client = gateway.CreateClient();

        Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
    }

    [Fact]
    public async Task The_real_process_stops_with_one_clear_line_and_exit_code_1()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "DingTalk.CardGateway.dll");
        var start = new ProcessStartInfo("dotnet", [dll, "--urls", "http://127.0.0.1:0"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        start.Environment["DingTalk__AppKey"] = "live-app-key";
        start.Environment["DingTalk__AppSecret"] = "";
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(1, process.ExitCode);
        var error = await stderr;
        Assert.Contains("cannot start", error, StringComparison.Ordinal);
        Assert.Contains("DingTalk:AppSecret", error, StringComparison.Ordinal);
        Assert.Contains("DingTalk:Callback:PublicBaseUrl", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error + await stdout, StringComparison.Ordinal);
    }
}
