using System.Diagnostics;
using Npgsql;
using Testcontainers.PostgreSql;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// A real PostgreSQL server for the PostgreSQL tests: <c>CARDGATEWAY_TEST_POSTGRES</c> (an Npgsql connection string
/// whose user may create databases; CI starts one with <c>.ci/postgres.sh</c>), else a Testcontainers server when a
/// Docker engine answers, else none — and the tests say they were skipped and why. Each fixture gets a fresh database.
/// </summary>
public static class PostgresServer
{
    public const string Variable = "CARDGATEWAY_TEST_POSTGRES";
    private static readonly Lazy<Task<string?>> Admin = new(FindAsync);

    public static string SkipReason { get; private set; } = "";

    /// <summary>A new, empty database's connection string, or null when no server is available.</summary>
    public static async Task<string?> CreateDatabaseAsync()
    {
        var admin = await Admin.Value;
        if (admin is null)
        {
            return null;
        }

        var name = $"cg_test_{Guid.NewGuid():N}"[..24];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(admin) { Database = name, Pooling = true }.ToString();
    }

    /// <summary>
    /// Runs <paramref name="test"/> on a new, empty database's connection string, and drops the database afterwards,
    /// whatever the test did; skips the test, saying why, when no server is available.
    /// </summary>
    public static async Task WithDatabaseAsync(Func<string, Task> test)
    {
        var connectionString = await CreateDatabaseAsync();
        Skip.If(connectionString is null, SkipReason);
        try
        {
            await test(connectionString);
        }
        finally
        {
            await DropDatabaseAsync(connectionString);
        }
    }

    /// <summary>
    /// Drops the database, ending its sessions (ours, pooled ones included; an autovacuum worker the DROP ends). Npgsql's pools are left as
    /// they are: they are the whole process's, and test classes run in parallel, so emptying them all would make every
    /// other test's next statement open a new connection (a CONNECT that a test counting a click's round trips counts).
    /// The pool of the dropped database is never used again; its ended connections are pruned when idle.
    /// </summary>
    public static async Task DropDatabaseAsync(string? connectionString)
    {
        var admin = await Admin.Value;
        if (admin is null || connectionString is null)
        {
            return;
        }

        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        // Our own connections are ended first, then a plain DROP: it stops an autovacuum worker busy in the database by itself,
        // where WITH (FORCE) would try to terminate that worker too and fail (42501: not a member of its role) — seen in CI
        // when autovacuum had just started on a test's freshly written database. DROP waits up to 5 s for the ended ones to go.
        await using (var terminate = new NpgsqlCommand(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = @name AND usename = current_user AND pid <> pg_backend_pid()",
            connection))
        {
            terminate.Parameters.AddWithValue("name", name!);
            await terminate.ExecuteScalarAsync();
        }

        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name}", connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<string?> FindAsync()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } configured)
        {
            return configured;
        }

        if (!DockerAnswers())
        {
            SkipReason = $"No PostgreSQL: set {Variable} to a server whose user may create databases (CI runs .ci/postgres.sh), or run a Docker engine for Testcontainers.";
            return null;
        }

        var container = new PostgreSqlBuilder("postgres:17").Build();
        await container.StartAsync();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => container.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return container.GetConnectionString();
    }

    private static bool DockerAnswers()
    {
        try
        {
            using var docker = Process.Start(new ProcessStartInfo("docker", "info") { RedirectStandardOutput = true, RedirectStandardError = true });
            if (docker is null || !docker.WaitForExit(10_000))
            {
                return false;
            }

            return docker.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
