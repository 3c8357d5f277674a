using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// <c>dotnet DingTalk.CardGateway.dll --health-check[=ready|live]</c>: the container's health probe, since the runtime
/// image has no curl or wget. It builds no host and opens no storage: one GET to the running gateway's
/// <c>/health/ready</c> (or <c>/health/live</c>) on 127.0.0.1 at the port the container listens on, one line out,
/// exit 0 on 200 and 1 on anything else (refused, timed out, 503).
/// </summary>
public static class HealthCheckCommand
{
    public const string Option = "--health-check";
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    /// <summary>The probe the arguments ask for (<c>ready</c> when bare), or null when they ask for none or an unknown one.</summary>
    public static string? Probe(IReadOnlyList<string> args, out string? unknown)
    {
        unknown = null;
        if (args.FirstOrDefault(IsOption) is not { } arg)
        {
            return null;
        }

        var probe = arg == Option ? "ready" : arg[(Option.Length + 1)..];
        if (probe is "ready" or "live")
        {
            return probe;
        }

        unknown = arg;
        return null;
    }

    public static bool IsRequested(IReadOnlyList<string> args) => args.Any(IsOption);

    private static bool IsOption(string arg) => arg == Option || arg.StartsWith(Option + "=", StringComparison.Ordinal);

    /// <summary>
    /// The port as Kestrel takes it from the environment: the first of <c>ASPNETCORE_HTTP_PORTS</c>, else the first
    /// http URL's port in <c>ASPNETCORE_URLS</c>, else 8080 (the image's default).
    /// </summary>
    public static int Port(Func<string, string?> environment)
    {
        var ports = environment("ASPNETCORE_HTTP_PORTS");
        if (!string.IsNullOrWhiteSpace(ports))
        {
            var first = ports.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[0];
            if (int.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            {
                return port;
            }
        }

        foreach (var url in (environment("ASPNETCORE_URLS") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // Kestrel's wildcards (http://+:80, http://*:80) are not URIs; only the port matters here.
            if (url.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
                && int.TryParse(url[(url.LastIndexOf(':') + 1)..].TrimEnd('/'), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            {
                return port;
            }
        }

        return 8080;
    }

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output)
    {
        var probe = Probe(args, out var unknown);
        if (probe is null)
        {
            await output.WriteLineAsync($"unhealthy: {unknown} is not a health check; use {Option} (readiness), {Option}=ready or {Option}=live");
            return 1;
        }

        var url = new Uri($"http://127.0.0.1:{Port(Environment.GetEnvironmentVariable)}/health/{probe}");
        var (healthy, line) = await CheckAsync(url);
        await output.WriteLineAsync(line);
        return healthy ? 0 : 1;
    }

    public static async Task<(bool Healthy, string Line)> CheckAsync(Uri url)
    {
        using var client = new HttpClient { Timeout = Timeout };
        try
        {
            using var response = await client.GetAsync(url);
            var body = await response.Content.ReadAsStringAsync();
            var healthy = response.IsSuccessStatusCode;
            return (healthy, $"{(healthy ? "healthy" : "unhealthy")}: {url} answered {(int)response.StatusCode}{Reasons(body)}");
        }
        catch (HttpRequestException ex) when (ex.InnerException is SocketException socket)
        {
            return (false, $"unhealthy: {url} cannot be reached: {socket.Message}");
        }
        catch (HttpRequestException ex)
        {
            return (false, $"unhealthy: {url} cannot be reached: {ex.Message}");
        }
        catch (TaskCanceledException)
        {
            return (false, $"unhealthy: {url} did not answer within {Timeout.TotalSeconds:0} s");
        }
    }

    /// <summary>The checks that did not pass, with the reason each gives: what the endpoint already shows anyone who asks, so no secret.</summary>
    private static string Reasons(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            var status = json.RootElement.GetProperty("status").GetString();
            var failing = json.RootElement.TryGetProperty("checks", out var checks)
                ? checks.EnumerateObject()
                    .Where(c => c.Value.GetProperty("status").GetString() != "Healthy")
                    .Select(c => $"{c.Name}: {c.Value.GetProperty("description").GetString()}")
                    .ToList()
                : [];
            return failing.Count == 0 ? $" {status}" : $" {status} ({string.Join("; ", failing)})";
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return "";
        }
    }
}
