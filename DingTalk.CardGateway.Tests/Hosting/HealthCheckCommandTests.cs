using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// <c>dotnet DingTalk.CardGateway.dll --health-check</c>, the container's probe, as the container runs it: a second
/// process against a real gateway process, finding it by the port in the environment.
/// </summary>
public sealed class HealthCheckCommandTests : IAsyncLifetime
{
    private FakeDingTalk _dingTalk = null!;

    public async Task InitializeAsync() => _dingTalk = await FakeDingTalk.StartAsync();

    public async Task DisposeAsync() => await _dingTalk.DisposeAsync();

    [Fact]
    public async Task A_ready_gateway_passes_both_probes_with_exit_0_and_one_line()
    {
        await using var gateway = await GatewayProcess.StartAsync(_dingTalk, new Dictionary<string, string?>
        {
            ["Gateway:Storage:Provider"] = "Sqlite",
            ["Gateway:Storage:ConnectionString"] = "Data Source=:memory:",
        });
        var port = gateway.BaseAddress.Port;
        await WaitUntilReadyAsync(gateway);

        var (exitCode, output) = await RunAsync(["--health-check"], new() { ["ASPNETCORE_HTTP_PORTS"] = $"{port}" });
        Assert.Equal(0, exitCode);
        Assert.Equal($"healthy: http://127.0.0.1:{port}/health/ready answered 200 Healthy", output.Trim());

        (exitCode, output) = await RunAsync(["--health-check=live"], new() { ["ASPNETCORE_URLS"] = $"http://+:{port}" });
        Assert.Equal(0, exitCode);
        Assert.Equal($"healthy: http://127.0.0.1:{port}/health/live answered 200 Healthy", output.Trim());
    }

    [Fact]
    public async Task An_unready_gateway_fails_the_readiness_probe_with_the_failing_checks_reason_but_passes_liveness()
    {
        var unreachable = new Uri($"http://127.0.0.1:{ClosedPort.Take()}/");
        await using var gateway = await GatewayProcess.StartAsync(_dingTalk, new Dictionary<string, string?>
        {
            ["Gateway:Storage:Provider"] = "Sqlite",
            ["Gateway:Storage:ConnectionString"] = "Data Source=:memory:",
            ["DingTalk:ApiBaseUrl"] = unreachable.ToString(),
        });
        var port = gateway.BaseAddress.Port;

        var (exitCode, output) = await RunAsync(["--health-check=ready"], new() { ["ASPNETCORE_HTTP_PORTS"] = $"{port}" });
        Assert.Equal(1, exitCode);
        Assert.StartsWith($"unhealthy: http://127.0.0.1:{port}/health/ready answered 503 Unhealthy (dingtalk-token: ", output, StringComparison.Ordinal);
        Assert.DoesNotContain(_dingTalk.Options.AppSecret, output, StringComparison.Ordinal);

        (exitCode, _) = await RunAsync(["--health-check=live"], new() { ["ASPNETCORE_HTTP_PORTS"] = $"{port}" });
        Assert.Equal(0, exitCode);
    }

    [Fact]
    public async Task A_port_nothing_listens_on_fails_with_exit_1_and_says_the_connection_was_refused()
    {
        var port = ClosedPort.Take();

        var (exitCode, output) = await RunAsync(["--health-check"], new() { ["ASPNETCORE_HTTP_PORTS"] = $"{port}" });

        Assert.Equal(1, exitCode);
        Assert.Equal($"unhealthy: http://127.0.0.1:{port}/health/ready cannot be reached: Connection refused", output.Trim());
    }

    [Fact]
    public async Task An_unknown_probe_fails_with_exit_1_and_names_the_spellings_it_takes()
    {
        var (exitCode, output) = await RunAsync(["--health-check=redy"], new() { ["ASPNETCORE_HTTP_PORTS"] = $"{ClosedPort.Take()}" });

        Assert.Equal(1, exitCode);
        Assert.Equal("unhealthy: --health-check=redy is not a health check; use --health-check (readiness), --health-check=ready or --health-check=live", output.Trim());
    }

    [Theory]
    [InlineData(null, null, 8080)]
    [InlineData("9090", "http://+:7070", 9090)]
    [InlineData("9090;9091", null, 9090)]
    [InlineData(null, "https://+:7443;http://*:7070", 7070)]
    [InlineData(null, "http://localhost:5080/", 5080)]
    public void The_port_is_the_one_kestrel_listens_on(string? httpPorts, string? urls, int port)
    {
        var environment = new Dictionary<string, string?> { ["ASPNETCORE_HTTP_PORTS"] = httpPorts, ["ASPNETCORE_URLS"] = urls };

        Assert.Equal(port, HealthCheckCommand.Port(name => environment.GetValueOrDefault(name)));
    }

    private static async Task WaitUntilReadyAsync(GatewayProcess gateway)
    {
        using var client = gateway.CreateClient();
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!(await client.GetAsync("/health/ready", patience.Token)).IsSuccessStatusCode)
        {
            await Task.Delay(100, patience.Token);
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string[] args, Dictionary<string, string> environment)
    {
        var (exitCode, error, output) = await GatewayProcess.RunToExitAsync(args, environment, "ASPNETCORE_HTTP_PORTS", "ASPNETCORE_URLS");
        Assert.Equal("", error);
        return (exitCode, output);
    }
}
