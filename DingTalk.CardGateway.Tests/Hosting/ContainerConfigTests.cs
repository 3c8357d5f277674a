using System.Text.RegularExpressions;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// No Docker engine runs here, so this checks what the container is given: every setting in
/// <c>docker/.env.example</c> and <c>docker-compose.yml</c> names a real option, and filled in they start a Live gateway.
/// </summary>
public class ContainerConfigTests
{
    private static readonly string Root = NodeScript.RepoRoot();

    [Fact]
    public void Every_container_setting_binds_to_an_option_and_a_filled_env_file_validates()
    {
        var settings = EnvExample().Concat(ComposeEnvironment()).Where(kv => kv.Key.Contains("__", StringComparison.Ordinal)).ToList();
        Assert.Contains("DingTalk__AppKey", settings.Select(kv => kv.Key));
        Assert.Contains("Gateway__Storage__Provider", settings.Select(kv => kv.Key));

        using var services = EnvironmentSettings.Bind(settings); // a misspelt key would be silently ignored by the gateway; here it fails
        var dingTalk = services.GetRequiredService<IOptions<DingTalkOptions>>().Value;
        Assert.Equal(GatewayMode.Live, dingTalk.EffectiveMode);
        Assert.Equal("Postgres", services.GetRequiredService<IOptions<GatewayOptions>>().Value.Storage.Provider);
    }

    [Fact]
    public void The_dockerfile_runs_the_published_gateway_as_a_non_root_user_on_8080()
    {
        var dockerfile = File.ReadAllLines(Path.Combine(Root, "Dockerfile"));

        Assert.Contains(dockerfile, l => l.StartsWith("FROM mcr.microsoft.com/dotnet/sdk:10.0", StringComparison.Ordinal));
        Assert.Contains(dockerfile, l => l.StartsWith("FROM mcr.microsoft.com/dotnet/aspnet:10.0", StringComparison.Ordinal));
        Assert.Contains(dockerfile, l => l.Trim() == "USER $APP_UID");
        Assert.Contains(dockerfile, l => l.Contains("ASPNETCORE_HTTP_PORTS=8080", StringComparison.Ordinal));
        Assert.Contains(dockerfile, l => l.Contains("\"DingTalk.CardGateway.dll\"", StringComparison.Ordinal));
        foreach (var copied in dockerfile.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from", StringComparison.Ordinal)))
        {
            foreach (var source in copied.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1])
            {
                Assert.True(File.Exists(Path.Combine(Root, source)) || Directory.Exists(Path.Combine(Root, source)), $"the Dockerfile copies {source}, which does not exist");
            }
        }
    }

    /// <summary>
    /// nginx's default logs write each request line as it came, and a normal robot card's callback URL ends in the
    /// token that authenticates its clicks: the proxy's access log masks it, and its error log (which quotes the request
    /// line of a failed upstream call) keeps only what stops nginx. Checked against nginx 1.22 by hand: no token in either.
    /// </summary>
    [Fact]
    public void The_proxy_in_front_of_the_replicas_logs_no_robot_card_callback_token()
    {
        var conf = File.ReadAllText(Path.Combine(Root, "docker", "nginx.conf"));

        var accessLog = Regex.Match(conf, @"^\s*access_log\s+\S+\s+(?<format>\w+)\s*;", RegexOptions.Multiline);
        Assert.True(accessLog.Success, "no access_log with a format of its own: nginx's default 'combined' logs $request, tokens included");
        var format = Regex.Match(conf, $@"log_format\s+{accessLog.Groups["format"].Value}\s+(?<parts>(?:'[^']*'\s*)+);");
        Assert.True(format.Success, $"the access log's format {accessLog.Groups["format"].Value} is not defined");
        Assert.DoesNotMatch(@"\$(request|request_uri|uri|document_uri|request_line)\b", format.Groups["parts"].Value);
        var masked = Regex.Match(format.Groups["parts"].Value, @"\$(?<variable>\w+_request_uri)\b");
        Assert.True(masked.Success, "the access log writes no masked request URI");
        Assert.Matches($@"map\s+\$request_uri\s+\${masked.Groups["variable"].Value}\s*\{{[^}}]*\(\?<kept>{Regex.Escape(RobotCardCallbackToken.RoutePrefix)}\)\[\^\?\]\*", conf);
        Assert.Matches(@"(?m)^error_log\s+\S+\s+(crit|alert|emerg)\s*;", conf);
    }

    /// <summary>
    /// Behind nginx every request comes from nginx: a refused callback's warning (3001, 3011) would name the proxy, not
    /// the caller. nginx appends the caller to X-Forwarded-For and the replicas, which only nginx reaches, take it from there.
    /// </summary>
    [Fact]
    public void The_replicas_behind_the_proxy_log_the_callers_address_not_the_proxys()
    {
        var conf = File.ReadAllText(Path.Combine(Root, "docker", "nginx.conf"));
        var gateway = ComposeEnvironment().ToDictionary(kv => kv.Key, kv => kv.Value);

        Assert.Matches(@"proxy_set_header\s+X-Forwarded-For\s+\$proxy_add_x_forwarded_for\s*;", conf);
        Assert.Equal("\"true\"", gateway.GetValueOrDefault("ASPNETCORE_FORWARDEDHEADERS_ENABLED"));
    }

    /// <summary>
    /// DingTalk's 20 calls a second are per app and API, whichever replica makes them. On PostgreSQL the replicas take
    /// turns in the database (<c>SharedApiPace</c>), so <c>PermitsPerSecondPerApi</c> is the limit of all of them together:
    /// the compose file's replicas are on PostgreSQL, and that limit stays under DingTalk's. (Before, each replica paced
    /// only itself, and the file gave each 18 ÷ replicas: one more replica and forgetting it tripped DingTalk's limit.)
    /// </summary>
    [Fact]
    public void The_replicas_share_one_rate_limit_under_DingTalks_20_calls_a_second_per_API()
    {
        Assert.True(Replicas() > 1);
        using var services = EnvironmentSettings.Bind([.. EnvExample().Concat(ComposeEnvironment()).Where(kv => kv.Key.Contains("__", StringComparison.Ordinal))]);
        Assert.Equal(StorageOptions.Postgres, services.GetRequiredService<IOptions<GatewayOptions>>().Value.Storage.Provider, StringComparer.OrdinalIgnoreCase);
        var permits = services.GetRequiredService<IOptions<DingTalkOptions>>().Value.Outbound.PermitsPerSecondPerApi;

        Assert.True(permits <= 20, $"{permits} calls a second to one API, over all replicas; DingTalk allows 20");
    }

    /// <summary>
    /// Each replica's Npgsql pool opens up to <c>Maximum Pool Size</c> connections (100 unless the connection string says),
    /// and a killed replica's stay open until the server notices it gone: the replicas' pools, and one more, must fit in
    /// the server's <c>max_connections</c> (100 unless the compose file sets it) less the 3 it keeps for superusers, or a
    /// busy moment answers callbacks 503 (<c>53300: remaining connection slots are reserved…</c>: README, "Sizing PostgreSQL").
    /// </summary>
    [Fact]
    public void The_replicas_connection_pools_fit_in_the_PostgreSQL_servers_connections()
    {
        var replicas = Replicas();
        var connectionString = EnvExample().Single(kv => kv.Key == "Gateway__Storage__ConnectionString").Value;
        var pool = new Npgsql.NpgsqlConnectionStringBuilder(connectionString).MaxPoolSize;
        var compose = File.ReadAllText(Path.Combine(Root, "docker-compose.yml"));
        var set = Regex.Match(compose, @"max_connections=(?<value>\d+)");
        var maxConnections = set.Success ? int.Parse(set.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture) : 100;
        const int ReservedForSuperusers = 3;

        Assert.True(
            (replicas + 1) * pool <= maxConnections - ReservedForSuperusers,
            $"{replicas} replicas and a killed one's lingering connections may open {(replicas + 1) * pool} (Maximum Pool Size {pool} each); PostgreSQL takes {maxConnections - ReservedForSuperusers}");
    }

    /// <summary>
    /// The runtime image has no curl: the Dockerfile's HEALTHCHECK and compose's run the gateway's own
    /// <c>--health-check</c>, spelt as the binary accepts it (a typo would make every replica unhealthy, forever), and
    /// nginx starts only once the replicas are healthy, not merely started.
    /// </summary>
    [Fact]
    public void The_container_health_checks_run_the_gateways_own_probe_and_nginx_waits_for_healthy_replicas()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Root, "Dockerfile"));
        var compose = File.ReadAllText(Path.Combine(Root, "docker-compose.yml"));

        var image = Regex.Match(dockerfile, @"^HEALTHCHECK\s[^\n]*\\\n\s*CMD\s+(?<command>\[[^\n]*\])\s*$", RegexOptions.Multiline);
        Assert.True(image.Success, "the Dockerfile has no HEALTHCHECK ... CMD [\"dotnet\", ...]");
        var service = Regex.Match(compose, @"^  gateway:\n(?:    [^\n]*\n|\n)*?    healthcheck:\n      test: (?<command>\[[^\n]*\])", RegexOptions.Multiline);
        Assert.True(service.Success, "compose's gateway service has no healthcheck test");
        foreach (var command in new[] { image, service }.Select(m => System.Text.Json.JsonSerializer.Deserialize<string[]>(m.Groups["command"].Value)!))
        {
            var args = command.SkipWhile(a => a == "CMD").ToArray();
            Assert.Equal(["dotnet", "DingTalk.CardGateway.dll"], args[..2]);
            Assert.True(HealthCheckCommand.IsRequested(args[2..]), $"{string.Join(' ', args)} does not ask for a health check");
            Assert.Equal("live", HealthCheckCommand.Probe(args[2..], out var unknown));
            Assert.Null(unknown);
        }

        Assert.Matches(new Regex(@"^  nginx:\n(?:    [^\n]*\n)*?    depends_on:\n      gateway:\n        condition: service_healthy\b", RegexOptions.Multiline), compose);
    }

    private static int Replicas() => int.Parse(
        File.ReadAllLines(Path.Combine(Root, "docker-compose.yml")).Select(l => l.Trim()).Single(l => l.StartsWith("replicas:", StringComparison.Ordinal))["replicas:".Length..].Trim(),
        System.Globalization.CultureInfo.InvariantCulture);

    private static IEnumerable<KeyValuePair<string, string>> EnvExample() =>
        File.ReadAllLines(Path.Combine(Root, "docker", ".env.example"))
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split('=', 2))
            .Select(p => KeyValuePair.Create(p[0].Trim(), p[1].Trim()));

    /// <summary>The <c>Name: value</c> lines of the gateway service's <c>environment:</c> block (settings with <c>__</c>, and <c>ASPNETCORE_*</c>).</summary>
    private static IEnumerable<KeyValuePair<string, string>> ComposeEnvironment() =>
        File.ReadAllLines(Path.Combine(Root, "docker-compose.yml"))
            .Select(l => l.Trim())
            .Where(l => (l.Contains("__", StringComparison.Ordinal) || l.StartsWith("ASPNETCORE_", StringComparison.Ordinal))
                && l.Contains(": ", StringComparison.Ordinal) && !l.StartsWith('#'))
            .Select(l => l.Split(": ", 2))
            .Select(p => KeyValuePair.Create(p[0], p[1]));
}
