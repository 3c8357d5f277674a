using System.Net;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>The storage readiness check on a clock the test moves: what it says while PostgreSQL black-holes its query.</summary>
public sealed class StorageHealthCheckTests
{
    private readonly FakeTimeProvider _clock = new();

    /// <summary>
    /// Cancelling a query that a black-holed PostgreSQL never answers does not end it: Npgsql's cancel request is
    /// black-holed too, and it waits for it on the thread that cancels (30 s and more). The check said "has not answered
    /// yet" all that time, with a thread held, instead of saying, after its <see cref="StorageHealthCheck.QueryTimeout"/>,
    /// that the database did not answer; and the query stays the one under way, however many probes come.
    /// </summary>
    [SkippableFact]
    public async Task A_query_a_black_holed_PostgreSQL_never_answers_is_given_up_after_the_query_timeout_and_stays_the_only_one()
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            var real = new NpgsqlConnectionStringBuilder(connectionString);
            var address = (await Dns.GetHostAddressesAsync(real.Host!)).First(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
            await using var hole = BlackHole.Start(new IPEndPoint(address, real.Port), hung: false);
            // Npgsql's own command timeout (real time) out of the way: only the check's, on the test's clock, ends the wait.
            var throughHole = new NpgsqlConnectionStringBuilder(connectionString) { Host = "127.0.0.1", Port = hole.Port, CommandTimeout = 300 }.ToString();
            using var database = new GatewayDatabase(
                Options.Create(new GatewayOptions { Storage = { Provider = StorageOptions.Postgres, ConnectionString = throughHole } }),
                new HostingEnvironment { ContentRootPath = Path.GetTempPath() });
            var check = new StorageHealthCheck(database, _clock);
            Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext())).Status); // the clock still: it waits for the answer

            // The next query goes out on the pooled connection, into the hole.
            hole.Hang();
            var hung = await ProbeAsync(check);
            Assert.Equal(HealthStatus.Unhealthy, hung.Status);
            Assert.StartsWith("Postgres has not answered yet (", hung.Description, StringComparison.Ordinal);
            await Eventually.TrueAsync(() => hole.Held > 0, "the query held in the black hole");

            // On another thread, with a guard: a query cancelled when the time is up held the thread that cancelled it.
            await Task.Run(() => _clock.Advance(StorageHealthCheck.QueryTimeout)).WaitAsync(TimeSpan.FromSeconds(20));
            await Eventually.TrueAsync(async () => (await ProbeAsync(check)).Description == "Postgres did not answer within 10 s.", "the query given up");

            var connections = hole.Accepted;
            for (var probe = 0; probe < 3; probe++)
            {
                Assert.Equal("Postgres did not answer within 10 s.", (await ProbeAsync(check)).Description);
            }

            Assert.Equal(connections, hole.Accepted); // the probes joined the one query still under way
            Assert.True(hole.Held > 0);
        });
    }

    /// <summary>A probe on the fake clock: it waits for the query at most <see cref="ReadinessWait.Bound"/>, which the test lets pass.</summary>
    private async Task<HealthCheckResult> ProbeAsync(StorageHealthCheck check)
    {
        var probe = check.CheckHealthAsync(new HealthCheckContext());
        while (!probe.IsCompleted)
        {
            _clock.Advance(ReadinessWait.Bound);
            await Task.WhenAny(probe, Task.Delay(10));
        }

        return await probe;
    }
}
