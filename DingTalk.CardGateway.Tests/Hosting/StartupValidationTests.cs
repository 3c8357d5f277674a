using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage.Sql;
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
        var failure = DingTalkValidationFailure("Live", key, ""); // Live as an AppKey makes it: Mode not given
        Assert.Contains(key, failure, StringComparison.Ordinal);
        Assert.Contains(key.Replace(":", "__", StringComparison.Ordinal), failure, StringComparison.Ordinal);
    }

    /// <summary>
    /// An AppSecret with no AppKey (its variable misspelt, its secret not mounted) is a Live deployment missing its key,
    /// not Sandbox mode: that started healthy on the emulator, and showed the real AppSecret and ApiSecret, unauthenticated,
    /// under /sandbox/requests and /sandbox/cards.
    /// </summary>
    [Fact]
    public void An_app_secret_without_an_app_key_is_a_live_configuration_missing_the_app_key()
    {
        var failure = DingTalkValidationFailure(mode: null, "DingTalk:AppKey", "");

        Assert.Equal("DingTalk:AppKey is required in Live mode (set it in appsettings.json or as the environment variable DingTalk__AppKey).", failure);
    }

    [Fact]
    public void A_callback_secret_without_any_app_credentials_is_a_live_configuration_missing_the_app_key()
    {
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["DingTalk:Callback:PublicBaseUrl"] = "https://gw.example",
                ["DingTalk:Callback:ApiSecret"] = "api-secret",
            }).Build())
            .AddGatewayOptions()
            .BuildServiceProvider();

        // As Sandbox mode it would serve the emulator, healthy, and show that secret under /sandbox/cards.
        var ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<DingTalkOptions>>().Value);
        Assert.Equal(["DingTalk:AppKey", "DingTalk:AppSecret"], ex.Failures.Select(f => f[..f.IndexOf(' ', StringComparison.Ordinal)]));
    }

    /// <summary>
    /// DingTalk:Callback:PreviousApiSecrets is a list of secrets still accepted while ApiSecret is rotated: an empty entry
    /// (a variable set to nothing), ApiSecret itself, a repeat, or a list with no ApiSecret beside it is a mistake, named by
    /// its entry and never by its value.
    /// </summary>
    [Theory]
    [InlineData("", "api-secret", "DingTalk:Callback:PreviousApiSecrets:1 (DingTalk__Callback__PreviousApiSecrets__1) is empty")]
    [InlineData("  ", "api-secret", "DingTalk:Callback:PreviousApiSecrets:1 (DingTalk__Callback__PreviousApiSecrets__1) is empty")]
    [InlineData("api-secret", "api-secret", "DingTalk:Callback:PreviousApiSecrets:1 (DingTalk__Callback__PreviousApiSecrets__1) is DingTalk:Callback:ApiSecret itself")]
    [InlineData("last-years-secret", "api-secret", "DingTalk:Callback:PreviousApiSecrets:1 (DingTalk__Callback__PreviousApiSecrets__1) repeats DingTalk:Callback:PreviousApiSecrets:0")]
    [InlineData("another-old-secret", null, "DingTalk:Callback:PreviousApiSecrets is set but DingTalk:Callback:ApiSecret is not")]
    public void A_previous_api_secret_that_cannot_be_one_fails_validation_naming_its_entry(string second, string? apiSecret, string says)
    {
        var failure = Assert.Single(DingTalkValidationFailures(new()
        {
            ["DingTalk:Callback:ApiSecret"] = apiSecret,
            ["DingTalk:Stream:Enabled"] = apiSecret is null ? "true" : "false", // Stream mode needs no ApiSecret
            ["DingTalk:Callback:PreviousApiSecrets:0"] = "last-years-secret",
            ["DingTalk:Callback:PreviousApiSecrets:1"] = second,
        }));

        Assert.StartsWith(says, failure, StringComparison.Ordinal);
        Assert.DoesNotContain("last-years-secret", failure, StringComparison.Ordinal);
        Assert.DoesNotContain("api-secret", failure.Replace("ApiSecret", "", StringComparison.OrdinalIgnoreCase), StringComparison.Ordinal);
    }

    [Fact]
    public void Previous_api_secrets_beside_the_api_secret_are_bound_in_order()
    {
        using var services = LiveOptions(new()
        {
            ["DingTalk:Callback:PreviousApiSecrets:0"] = "last-years-secret",
            ["DingTalk:Callback:PreviousApiSecrets:1"] = "older-secret",
        });

        Assert.Equal(["last-years-secret", "older-secret"], services.GetRequiredService<IOptions<DingTalkOptions>>().Value.Callback.PreviousApiSecrets);
    }

    /// <summary>
    /// A previous callback secret alone is a Live deployment missing its settings, as ApiSecret alone is: as Sandbox mode
    /// it would have been given the sandbox's ApiSecret and started healthy on the emulator.
    /// </summary>
    [Fact]
    public void A_previous_callback_secret_without_anything_else_is_a_live_configuration_that_stops()
    {
        Assert.Equal(GatewayMode.Live, new DingTalkOptions { Callback = { PreviousApiSecrets = ["last-years-secret"] } }.EffectiveMode);
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["DingTalk:Callback:PreviousApiSecrets:0"] = "last-years-secret",
            }).Build())
            .AddGatewayOptions()
            .BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<DingTalkOptions>>().Value);
        Assert.StartsWith("DingTalk:Callback:PreviousApiSecrets is set but DingTalk:Callback:ApiSecret is not", Assert.Single(ex.Failures), StringComparison.Ordinal);
    }

    /// <summary>A URL without its scheme binds as a relative one, which no one could call: refused in either mode.</summary>
    [Theory]
    [InlineData("DingTalk:Callback:PublicBaseUrl", "cards.example.com", "Live")]
    [InlineData("DingTalk:Callback:PublicBaseUrl", "ftp://cards.example.com", "Live")]
    [InlineData("DingTalk:ApiBaseUrl", "api.dingtalk.com", "Live")]
    [InlineData("DingTalk:ApiBaseUrl", "localhost:9000", "Sandbox")]
    public void A_url_that_is_not_an_absolute_http_url_fails_validation_naming_it(string key, string value, string mode)
    {
        var failure = DingTalkValidationFailure(mode, key, value);
        Assert.StartsWith($"{key} ({key.Replace(":", "__", StringComparison.Ordinal)}) must be an absolute http(s) URL", failure, StringComparison.Ordinal);
        Assert.Contains($"'{value}'", failure, StringComparison.Ordinal);
    }

    /// <summary>
    /// The example URL of <c>docker/.env.example</c> (and of the README) left in place passed validation: the gateway would
    /// have registered https://cards.example.com with DingTalk, and no click would ever have come.
    /// </summary>
    [Theory]
    [InlineData("https://cards.example.com")]
    [InlineData("https://EXAMPLE.org/gateway")]
    [InlineData("http://gw.example.net:8080")]
    public void A_live_public_base_url_on_an_example_domain_fails_validation_naming_it(string url)
    {
        var failure = DingTalkValidationFailure("Live", "DingTalk:Callback:PublicBaseUrl", url);

        Assert.StartsWith($"DingTalk:Callback:PublicBaseUrl (DingTalk__Callback__PublicBaseUrl) is '{url}', on a domain kept for examples", failure, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://example.com.cn")] // someone's own domain
    [InlineData("https://myexample.com")]
    public void A_live_public_base_url_that_only_looks_like_an_example_domain_passes(string url)
    {
        using var services = LiveOptions(new() { ["DingTalk:Callback:PublicBaseUrl"] = url });

        Assert.Equal(new Uri(url), services.GetRequiredService<IOptions<DingTalkOptions>>().Value.Callback.PublicBaseUrl);
    }

    [Theory]
    [InlineData("Gateway:Storage:Retention", "00:00:00")] // every callback purged as it comes: no deduplication at all
    [InlineData("Gateway:Storage:Retention", "-1.00:00:00")]
    [InlineData("Gateway:Storage:Retention", "01:00:00")] // a signed delivery can still be replayed after its dedupe key is gone
    [InlineData("Gateway:Storage:Retention", "10675199.00:00:00")] // the purge's cutoff cannot be computed: it never runs
    [InlineData("Gateway:Storage:Provider", "PostgreSQL")] // silently SQLite: each replica its own file
    [InlineData("Gateway:Storage:StartupWait", "-00:00:01")]
    public void A_storage_setting_that_makes_no_sense_fails_validation_naming_it(string key, string value)
    {
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build())
            .AddGatewayOptions()
            .BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<GatewayOptions>>().Value);

        var failure = Assert.Single(ex.Failures);
        Assert.Contains(key, failure, StringComparison.Ordinal);
        Assert.Contains(key.Replace(":", "__", StringComparison.Ordinal), failure, StringComparison.Ordinal);
    }

    /// <summary>
    /// A connection string of the other provider: Provider=Postgres with appsettings.json's SQLite default left in place
    /// failed with Npgsql's "Couldn't set data source", naming neither key; Sqlite with a Host= string, with SQLite's
    /// "keyword 'host' is not supported". Said by the keys to set instead, never quoting the string (it holds a password).
    /// </summary>
    [Theory]
    [InlineData("Postgres", "Data Source=data/cardgateway.db", "SQLite", "PostgreSQL's")]
    [InlineData("postgres", "DataSource=/var/lib/gw.db;Password=sqlite-password-123", "SQLite", "PostgreSQL's")]
    [InlineData("Postgres", "", "is required", "Host=")]
    [InlineData("Sqlite", "Host=db;Database=cards;Username=gateway;Password=pg-password-123", "PostgreSQL", "Provider to Postgres")]
    [InlineData("Sqlite", "Server=db;Password=pg-password-123", "PostgreSQL", "Provider to Postgres")]
    public void A_connection_string_of_the_other_provider_fails_validation_naming_the_keys(string provider, string connectionString, string says, string advice)
    {
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Gateway:Storage:Provider"] = provider,
                ["Gateway:Storage:ConnectionString"] = connectionString,
            }).Build())
            .AddGatewayOptions()
            .BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<GatewayOptions>>().Value);

        var failure = Assert.Single(ex.Failures);
        Assert.StartsWith("Gateway:Storage:ConnectionString (Gateway__Storage__ConnectionString) ", failure, StringComparison.Ordinal);
        Assert.Contains(says, failure, StringComparison.Ordinal);
        Assert.Contains(advice, failure, StringComparison.Ordinal);
        Assert.DoesNotContain("password-123", failure, StringComparison.Ordinal);
    }

    /// <summary>The walkthrough's case as an operator meets it: only the provider switched, appsettings.json's SQLite string left.</summary>
    [Fact]
    public async Task Postgres_with_the_default_SQLite_connection_string_stops_the_process_with_one_line_naming_the_key()
    {
        var (exitCode, error, output) = await RunAsync(new() { ["Gateway__Storage__Provider"] = "Postgres" });

        Assert.Equal(1, exitCode);
        Assert.StartsWith("DingTalk.CardGateway cannot start: Gateway:Storage:ConnectionString (Gateway__Storage__ConnectionString) looks like a SQLite connection string", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Couldn't set data source", error, StringComparison.Ordinal);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", error + output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_setting_out_of_range_in_any_section_stops_the_process_with_one_line_before_the_database_is_touched()
    {
        var database = Path.Combine(Path.GetTempPath(), $"cg-invalid-{Guid.NewGuid():N}.db");
        try
        {
            var (exitCode, error, output) = await RunAsync(new()
            {
                ["Gateway__Outbox__LeaseDuration"] = "00:00:00",
                ["Gateway__Storage__ConnectionString"] = $"Data Source={database}",
            });

            Assert.Equal(1, exitCode);
            Assert.StartsWith("DingTalk.CardGateway cannot start:", error, StringComparison.Ordinal);
            Assert.Contains("LeaseDuration", error, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", error + output, StringComparison.Ordinal);
            Assert.False(File.Exists(database), "the schema was migrated before the configuration was found wrong");
        }
        finally
        {
            SqliteFiles.Delete(database);
        }
    }

    /// <summary>A value the configuration cannot even be read as (a duration written "7d") is a mistake like any other: one line, exit code 1.</summary>
    [Theory]
    [InlineData("Gateway__Storage__Retention", "7d", "Gateway:Storage:Retention")]
    [InlineData("DingTalk__Callback__SignatureWindow", "5m", "DingTalk:Callback:SignatureWindow")]
    [InlineData("DingTalk__Mode", "Production", "DingTalk:Mode")]
    [InlineData("Gateway__Callbacks__MaxBodyBytes", "1MB", "Gateway:Callbacks:MaxBodyBytes")]
    [InlineData("Gateway__Callbacks__StopGrace", "10s", "Gateway:Callbacks:StopGrace")] // also read for the host's own stop timeout
    public async Task A_value_that_cannot_be_read_stops_the_process_with_one_line_naming_the_key(string variable, string value, string key)
    {
        var (exitCode, error, output) = await RunAsync(new() { [variable] = value, ["Gateway__Storage__ConnectionString"] = "Data Source=:memory:" });

        Assert.Equal(1, exitCode);
        Assert.StartsWith("DingTalk.CardGateway cannot start:", error, StringComparison.Ordinal);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains($"{key} ({variable})", error, StringComparison.Ordinal);
        Assert.Contains($"'{value}'", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error + output, StringComparison.Ordinal);
    }

    /// <summary>
    /// A list given one value (<c>Gateway__AdminApiKeys=key</c>, not <c>Gateway__AdminApiKeys__0=key</c>) was ignored by the
    /// configuration binder without a word: the admin API stayed closed to the key just given (in Sandbox mode it took the
    /// well-known key instead), and a rotation's new secret given so was accepted by no replica. It stops the process,
    /// naming the key and how to give the entries, never the value: these lists hold secrets.
    /// </summary>
    [Theory]
    [InlineData("Gateway__AdminApiKeys", "Gateway:AdminApiKeys")]
    [InlineData("DingTalk__Callback__PreviousApiSecrets", "DingTalk:Callback:PreviousApiSecrets")]
    public async Task A_list_given_one_value_stops_the_process_with_one_line_naming_the_key_of_each_entry(string variable, string key)
    {
        const string Secret = "one-value-for-the-whole-list-123";

        var (exitCode, error, output) = await RunAsync(new() { [variable] = Secret, ["Gateway__Storage__ConnectionString"] = "Data Source=:memory:" });

        Assert.Equal(1, exitCode);
        Assert.Equal(
            $"DingTalk.CardGateway cannot start: {key} ({variable}) is a list, and one value for all of it is ignored: give each entry a key of its own, {key}:0 ({variable}__0), {key}:1 ({variable}__1), ….",
            error.Trim());
        Assert.DoesNotContain(Secret, error + output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Every DingTalk client's resilience settings read the DingTalk section too, so one wrong value there failed five
    /// validations: it is said once, by its configuration key rather than the class that holds it.
    /// </summary>
    [Fact]
    public async Task A_setting_out_of_range_is_said_once_by_its_configuration_key()
    {
        var (exitCode, error, _) = await RunAsync(new()
        {
            ["DingTalk__Callback__SignatureWindow"] = "00:00:00",
            ["Gateway__Storage__ConnectionString"] = "Data Source=:memory:",
        });

        Assert.Equal(1, exitCode);
        Assert.Equal(
            "DingTalk.CardGateway cannot start: DingTalk:Callback:SignatureWindow (DingTalk__Callback__SignatureWindow) must be between 00:00:01 and 01:00:00.",
            error.Trim());
    }

    [Fact]
    public async Task A_handler_timeout_below_the_handler_budget_stops_the_process_with_one_line()
    {
        var (exitCode, error, _) = await RunAsync(new()
        {
            ["Gateway__Callbacks__HandlerBudget"] = "00:00:02",
            ["Gateway__Callbacks__HandlerTimeout"] = "00:00:01",
            ["Gateway__Storage__ConnectionString"] = "Data Source=:memory:",
        });

        Assert.Equal(1, exitCode);
        Assert.Equal(
            "DingTalk.CardGateway cannot start: Gateway:Callbacks:HandlerTimeout (Gateway__Callbacks__HandlerTimeout) must be at least Gateway:Callbacks:HandlerBudget (00:00:02), not 00:00:01: a handler cancelled before its budget could never answer its clicker.",
            error.Trim());
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
        var (exitCode, error, output) = await RunAsync(new() { ["DingTalk__AppKey"] = "live-app-key", ["DingTalk__AppSecret"] = "" });

        Assert.Equal(1, exitCode);
        Assert.Contains("cannot start", error, StringComparison.Ordinal);
        Assert.Contains("DingTalk:AppSecret", error, StringComparison.Ordinal);
        Assert.Contains("DingTalk:Callback:PublicBaseUrl", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error + output, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_database_that_refuses_the_password_stops_the_process_at_once_with_its_own_words()
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            var wrong = new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { Password = "not-the-password" }.ToString();

            // Ten minutes of patience for an unreachable server: a refusal for good must not use any of it.
            var (exitCode, error, output) = await RunAsync(new()
            {
                ["Gateway__Storage__Provider"] = "Postgres",
                ["Gateway__Storage__ConnectionString"] = wrong,
                ["Gateway__Storage__StartupWait"] = "00:10:00",
            });

            Assert.Equal(1, exitCode);
            Assert.StartsWith("DingTalk.CardGateway cannot start: the Postgres database (Gateway:Storage:ConnectionString) cannot be used:", error, StringComparison.Ordinal);
            Assert.Contains("28P01: password authentication failed", error, StringComparison.Ordinal);
            Assert.DoesNotContain("not-the-password", error + output, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", error + output, StringComparison.Ordinal);
            Assert.DoesNotContain("not reachable yet", output, StringComparison.Ordinal); // not retried
        });
    }

    [Fact]
    public async Task A_database_server_that_is_not_up_is_tried_again_until_the_startup_wait_ends()
    {
        // A port nobody listens on: connection refused, as while PostgreSQL is still starting beside the gateway.
        var port = ClosedPort.Take();

        var (exitCode, error, output) = await RunAsync(new()
        {
            ["Gateway__Storage__Provider"] = "Postgres",
            ["Gateway__Storage__ConnectionString"] = $"Host=127.0.0.1;Port={port};Username=gateway;Password=secret-password;Database=cards",
            ["Gateway__Storage__StartupWait"] = "00:00:03",
        });

        Assert.Equal(1, exitCode);
        Assert.Contains("cannot be used: Failed to connect to 127.0.0.1", error, StringComparison.Ordinal);
        Assert.True(output.Split('\n').Count(l => l.Contains("not reachable yet", StringComparison.Ordinal)) >= 2, output);
        Assert.DoesNotContain("secret-password", error + output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error + output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_SQLite_file_that_cannot_be_created_stops_the_process_with_one_line()
    {
        var blocker = Path.Combine(Path.GetTempPath(), $"cg-not-a-folder-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(blocker, "a file where the database's folder should be");
        try
        {
            var (exitCode, error, output) = await RunAsync(new() { ["Gateway__Storage__ConnectionString"] = $"Data Source={blocker}/gateway.db" });

            Assert.Equal(1, exitCode);
            Assert.StartsWith("DingTalk.CardGateway cannot start: the Sqlite database (Gateway:Storage:ConnectionString) cannot be used:", error, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", error + output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(blocker);
        }
    }

    [Fact]
    public async Task A_SQLite_file_another_gateway_holds_stops_the_process_with_one_line()
    {
        var database = Path.Combine(Path.GetTempPath(), $"cg-held-{Guid.NewGuid():N}.db");
        try
        {
            // Held as the other gateway holds it: its writer keeps rows in memory, so a second writer must not start.
            using (new FileStream(database + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
            {
                var (exitCode, error, output) = await RunAsync(new() { ["Gateway__Storage__ConnectionString"] = $"Data Source={database}" });

                Assert.Equal(1, exitCode);
                Assert.StartsWith("DingTalk.CardGateway cannot start: the Sqlite database (Gateway:Storage:ConnectionString) cannot be used:", error, StringComparison.Ordinal);
                Assert.Contains("in use by another gateway", error, StringComparison.Ordinal);
                Assert.DoesNotContain(".:", error, StringComparison.Ordinal); // its sentence and the OS's read as two sentences
                Assert.DoesNotContain("   at ", error + output, StringComparison.Ordinal);
            }
        }
        finally
        {
            SqliteFiles.Delete(database);
        }
    }

    [Fact]
    public async Task An_address_something_else_listens_on_stops_the_process_with_one_line_saying_what_to_do()
    {
        // A second dotnet run, or any other program on 5080: the host's "failed to start" with two stack traces and an abort (134).
        using var other = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        other.Start();
        var port = ((System.Net.IPEndPoint)other.LocalEndpoint).Port;

        var (exitCode, error, output) = await RunAsync(new() { ["Gateway__Storage__ConnectionString"] = "Data Source=:memory:" }, $"http://127.0.0.1:{port}");

        Assert.Equal(1, exitCode);
        Assert.StartsWith($"DingTalk.CardGateway cannot start: http://127.0.0.1:{port} is already in use", error, StringComparison.Ordinal);
        Assert.Contains("--urls", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error + output, StringComparison.Ordinal);
    }

    /// <summary>
    /// A rollback past a migration the newer build declared older builds cannot live with: the previous image, started on
    /// the database, stops with one line naming the version it would need, before it writes a thing.
    /// </summary>
    [Fact]
    public async Task A_SQLite_file_a_newer_build_migrated_past_a_change_this_build_cannot_live_with_stops_the_process_with_one_line_naming_the_version_needed()
    {
        var database = Path.Combine(Path.GetTempPath(), $"cg-newer-{Guid.NewGuid():N}.db");
        try
        {
            await NewerBuildRefusedAsync(StorageOptions.Sqlite, $"Data Source={database}");
        }
        finally
        {
            SqliteFiles.Delete(database);
        }
    }

    [SkippableFact]
    public Task A_PostgreSQL_database_a_newer_build_migrated_past_a_change_this_build_cannot_live_with_stops_the_process_with_one_line_naming_the_version_needed() =>
        PostgresServer.WithDatabaseAsync(connectionString => NewerBuildRefusedAsync(StorageOptions.Postgres, connectionString));

    private static async Task NewerBuildRefusedAsync(string provider, string connectionString)
    {
        await NewerBuild.MigrateAsync(provider, connectionString, olderBuildsMayRun: false);
        var dialect = provider == StorageOptions.Postgres ? (SqlDialect)new PostgresDialect() : new SqliteDialect();
        var (ours, newer) = (Schema.Migrations(dialect).Count, NewerBuild.Version(dialect));

        var (exitCode, error, output) = await RunAsync(new()
        {
            ["Gateway__Storage__Provider"] = provider,
            ["Gateway__Storage__ConnectionString"] = connectionString,
        });

        Assert.Equal(1, exitCode);
        Assert.Equal(
            $"DingTalk.CardGateway cannot start: the {provider} database (Gateway:Storage:ConnectionString) cannot be used: it is at schema version {newer}, migrated by a newer build, "
            + $"and a build must know schema version {newer} or later to use it; this build knows versions up to {ours}. Deploy a build of schema version {newer} or later, or restore the backup taken before that upgrade.",
            error.Trim());
        Assert.DoesNotContain("storage ready", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error + output, StringComparison.Ordinal);
        await using var connection = dialect.CreateConnection(connectionString);
        await connection.OpenAsync();
        Assert.Equal(newer, await connection.ScalarAsync<long?>(null, "SELECT MAX(version) FROM schema_migrations", CancellationToken.None));
    }

    /// <summary>The published gateway as a process, in Sandbox mode unless told otherwise; what it printed once it exits.</summary>
    /// <summary>The one validation failure of a complete configuration in <paramref name="mode"/> with <paramref name="key"/> set to <paramref name="value"/>.</summary>
    /// <summary>The validation failures of <see cref="LiveOptions"/>.</summary>
    private static IReadOnlyList<string> DingTalkValidationFailures(Dictionary<string, string?> settings)
    {
        using var services = LiveOptions(settings);
        return Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<DingTalkOptions>>().Value).Failures.ToList();
    }

    /// <summary>A Live configuration with every key it needs, and <paramref name="settings"/>.</summary>
    private static ServiceProvider LiveOptions(Dictionary<string, string?> settings)
    {
        var all = new Dictionary<string, string?>
        {
            ["DingTalk:AppKey"] = "app",
            ["DingTalk:AppSecret"] = "app-secret",
            ["DingTalk:Callback:PublicBaseUrl"] = "https://gw.example",
            ["DingTalk:Callback:ApiSecret"] = "api-secret",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        return new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(all).Build())
            .AddGatewayOptions()
            .BuildServiceProvider();
    }

    private static string DingTalkValidationFailure(string? mode, string key, string value)
    {
        var settings = new Dictionary<string, string?>
        {
            ["DingTalk:Mode"] = mode,
            ["DingTalk:AppKey"] = "app",
            ["DingTalk:AppSecret"] = "app-secret",
            ["DingTalk:Callback:PublicBaseUrl"] = "https://gw.example",
            ["DingTalk:Callback:ApiSecret"] = "api-secret",
            [key] = value,
        };
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
            .AddGatewayOptions()
            .BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<DingTalkOptions>>().Value);

        return Assert.Single(ex.Failures);
    }

    private static Task<(int ExitCode, string Error, string Output)> RunAsync(Dictionary<string, string> environment, string urls = "http://127.0.0.1:0") =>
        GatewayProcess.RunToExitAsync(["--urls", urls], new Dictionary<string, string>(environment) { ["DOTNET_ENVIRONMENT"] = "Production" });
}
