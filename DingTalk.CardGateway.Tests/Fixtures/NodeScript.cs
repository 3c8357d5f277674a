using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// Runs a script of <c>conformance/</c> (DingTalk's official Node SDKs) while the test talks to it: installs the
/// packages from the lock file when missing, and fails (never skips) when node is not on PATH.
/// </summary>
public sealed class NodeScript : IAsyncDisposable
{
    private static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(5);
    private static readonly SemaphoreSlim Install = new(1, 1); // tests in parallel must not run npm ci together

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private NodeScript(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(_stdout, e.Data);
        _process.ErrorDataReceived += (_, e) => Append(_stderr, e.Data);
        _process.Exited += (_, _) => _exited.TrySetResult();
    }

    public static string Conformance => Path.Combine(RepoRoot(), "conformance");

    public string StdOut
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string StdErr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public int ExitCode => _process.ExitCode;

    /// <summary>Starts <c>node {script} {arguments}</c> in <c>conformance/</c>, after <c>npm ci</c> if <paramref name="package"/> is not installed.</summary>
    public static async Task<NodeScript> StartAsync(string package, string script, params string[] arguments)
    {
        await EnsureNodeAsync();
        await Install.WaitAsync();
        try
        {
            if (!Directory.Exists(Path.Combine(Conformance, "node_modules", package)))
            {
                var npm = OperatingSystem.IsWindows() ? "npm.cmd" : "npm";
                var (code, stdout, stderr) = await RunAsync(npm, ["ci", "--no-audit", "--no-fund"], InstallTimeout);
                Assert.True(code == 0, $"npm ci failed with {code}\n{stdout}\n{stderr}");
            }
        }
        finally
        {
            Install.Release();
        }

        var start = Info("node", [script, .. arguments]);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var node = new NodeScript(process);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    /// <summary>Waits for the script to end by itself.</summary>
    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _exited.Task.WaitAsync(timeout);
            await _process.WaitForExitAsync(); // flushes the output events
        }
        catch (TimeoutException)
        {
            Assert.Fail($"the node script did not finish within {timeout}\n{StdOut}\n{StdErr}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static void Append(StringBuilder to, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (to)
        {
            to.AppendLine(line);
        }
    }

    private static ProcessStartInfo Info(string fileName, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = Conformance,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    private static async Task EnsureNodeAsync()
    {
        try
        {
            var (code, _, stderr) = await RunAsync("node", ["--version"], TimeSpan.FromSeconds(30));
            Assert.True(code == 0, $"`node --version` failed: {stderr}");
        }
        catch (Win32Exception e)
        {
            Assert.Fail(
                "node is not on PATH. This test runs DingTalk's official Node Stream client against the fake DingTalk; "
                + $"install Node.js 18 or later (e.g. `apt-get install nodejs npm`) and run it again. ({e.Message})");
        }
    }

    private static async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout)
    {
        using var process = Process.Start(Info(fileName, arguments)) ?? throw new InvalidOperationException($"could not start {fileName}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish within {timeout}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "DingTalk.CardGateway.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no DingTalk.CardGateway.slnx above {AppContext.BaseDirectory}");
    }
}
