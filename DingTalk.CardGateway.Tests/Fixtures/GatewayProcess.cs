using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using DingTalk.CardGateway.Admin;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// The gateway as a real process (<c>dotnet DingTalk.CardGateway.dll</c>) on 127.0.0.1, in Live mode against a
/// <see cref="FakeDingTalk"/>: for what only a real process shows — a SIGKILL, or several replicas on one database.
/// </summary>
public sealed partial class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private GatewayProcess(Process process, Uri baseAddress, ConcurrentQueue<string> output)
    {
        _process = process;
        BaseAddress = baseAddress;
        _output = output;
    }

    public Uri BaseAddress { get; }

    /// <summary>
    /// The build the tests run: the test's own, or the one <c>CARDGATEWAY_TEST_GATEWAY_DLL</c> names (a published Release
    /// build, for measuring figures the README gives).
    /// </summary>
    public static string GatewayDll =>
        Environment.GetEnvironmentVariable("CARDGATEWAY_TEST_GATEWAY_DLL") is { Length: > 0 } dll ? dll : Path.Combine(AppContext.BaseDirectory, "DingTalk.CardGateway.dll");

    public string Output => string.Join('\n', _output);

    /// <summary>
    /// Runs <c>dotnet DingTalk.CardGateway.dll</c> with <paramref name="args"/> until it exits on its own (killed after a
    /// minute): for what stops at startup, or a command such as <c>--health-check</c>. The environment is the test's, less
    /// <paramref name="removed"/>, plus <paramref name="environment"/>.
    /// </summary>
    public static async Task<(int ExitCode, string Error, string Output)> RunToExitAsync(
        string[] args, IReadOnlyDictionary<string, string> environment, params string[] removed)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "DingTalk.CardGateway.dll"), .. args])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var variable in removed)
        {
            start.Environment.Remove(variable);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        return (process.ExitCode, await stderr, await stdout);
    }

    public static Task<GatewayProcess> StartAsync(FakeDingTalk dingTalk, IReadOnlyDictionary<string, string?> settings) =>
        LaunchAsync(dingTalk, settings, until: null);

    /// <summary>
    /// Starts the gateway and returns once it writes a line containing <paramref name="line"/> — while it starts, say,
    /// before it listens (its <see cref="BaseAddress"/> is then port 0, not one to call).
    /// </summary>
    public static Task<GatewayProcess> StartUntilAsync(FakeDingTalk dingTalk, IReadOnlyDictionary<string, string?> settings, string line) =>
        LaunchAsync(dingTalk, settings, until: line);

    private static async Task<GatewayProcess> LaunchAsync(FakeDingTalk dingTalk, IReadOnlyDictionary<string, string?> settings, string? until)
    {
        var start = new ProcessStartInfo("dotnet", [GatewayDll, "--urls", "http://127.0.0.1:0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        var environment = GatewayFactory.LiveSettings(dingTalk);
        environment["DOTNET_ENVIRONMENT"] = "Production";
        environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var output = new ConcurrentQueue<string>();
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Collect(e.Data);
        process.ErrorDataReceived += (_, e) => Collect(e.Data);
        process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException("The gateway exited during startup:\n" + string.Join('\n', output)));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            var address = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            return new GatewayProcess(process, address, output);
        }
        catch
        {
            // Never leave a half-started gateway running behind a failed test.
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            process.Dispose();
            throw;
        }

        void Collect(string? line)
        {
            if (line is null)
            {
                return;
            }

            output.Enqueue(line);
            if (until is not null)
            {
                if (line.Contains(until, StringComparison.Ordinal))
                {
                    listening.TrySetResult(new Uri("http://127.0.0.1:0"));
                }
            }
            else if (ListeningOn().Match(line) is { Success: true } match)
            {
                listening.TrySetResult(new Uri(match.Groups[1].Value));
            }
        }
    }

    public HttpClient CreateClient() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    public HttpClient CreateAdminClient()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, GatewayFactory.AdminKey);
        return client;
    }

    /// <summary>SIGKILL: no shutdown, no flushing, exactly what a crash or an OOM kill does.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
    }

    /// <summary>
    /// SIGSTOP, then SIGCONT <paramref name="duration"/> later: the process stands still (a long GC pause, a stalled VM)
    /// while the world goes on — its leases run out, its connections' peers move on — and then carries on where it was.
    /// </summary>
    public async Task FreezeAsync(TimeSpan duration)
    {
        await SuspendAsync();
        try
        {
            await Task.Delay(duration);
        }
        finally
        {
            await ResumeAsync();
        }
    }

    /// <summary>SIGSTOP: the process stands still from the moment this returns, until <see cref="ResumeAsync"/>.</summary>
    public Task SuspendAsync() => SignalAsync("STOP");

    /// <summary>SIGCONT: a process stood still by <see cref="SuspendAsync"/> carries on where it was.</summary>
    public Task ResumeAsync() => SignalAsync("CONT");

    /// <summary>
    /// Sends the process <c>SIG</c><paramref name="signal"/> (<c>TERM</c>, as <c>docker stop</c> and Kubernetes send it;
    /// <c>INT</c>, as Ctrl+C does), as <c>kill -TERM</c> would.
    /// </summary>
    public Task SendSignalAsync(string signal) => SignalAsync(signal);

    /// <summary>The process's exit code once it exits by itself within <paramref name="patience"/>; a <see cref="TimeoutException"/> if it does not.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan patience)
    {
        using var timeout = new CancellationTokenSource(patience);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The gateway had not exited {patience.TotalSeconds} s later:\n{Output}");
        }

        return _process.ExitCode;
    }

    /// <summary>The process ended (it crashed, or was killed).</summary>
    public bool HasExited => _process.HasExited;

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }

    private async Task SignalAsync(string signal)
    {
        if (_process.HasExited)
        {
            return;
        }

        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { RedirectStandardError = true })!;
        await kill.WaitForExitAsync();
    }

    [GeneratedRegex(@"Now listening on: (?:\\"")?(http://[0-9.:]+)")]
    private static partial Regex ListeningOn();
}
