using Dapper;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Ready only while the database answers. One <c>SELECT 1</c> at a time, whoever probes: a probe starts one (or joins
/// the one under way), waits for it within <see cref="ReadinessWait.Bound"/>, and else answers without it — with the
/// last one's failure, or that the database has not answered for so long — so a database that black-holes packets
/// (Npgsql then waits out its connect or command timeout) neither holds probes nor piles up connections.
/// </summary>
public sealed class StorageHealthCheck(GatewayDatabase database, TimeProvider clock) : IHealthCheck
{
    /// <summary>A query still unanswered after this is given up, failing with "did not answer within".</summary>
    public static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(10);

    private readonly Lock _gate = new();
    private Query? _running;
    private volatile string? _lastFailure;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        Query query;
        lock (_gate)
        {
            if (_running is null)
            {
                _running = new Query(clock.GetTimestamp());
                _running.Task = RunAsync(_running);
            }

            query = _running;
        }

        if (await ReadinessWait.EndedAsync(query.Task, query.StartedAt, clock, cancellationToken))
        {
            return query.Task.Result ?? HealthCheckResult.Healthy($"{database.Dialect.Name} reachable.");
        }

        return _lastFailure is { } last
            ? HealthCheckResult.Unhealthy(last)
            : HealthCheckResult.Unhealthy($"{database.Dialect.Name} has not answered yet ({ReadinessWait.Since(query.StartedAt, clock)} so far).", data: ReadinessLog.Pending);
    }

    /// <summary>Null when the database answered, else why not; never throws.</summary>
    private async Task<HealthCheckResult?> RunAsync(Query query)
    {
        await Task.Yield(); // the probe publishes this query under the gate before it can end and clear it
        using var timeout = new CancellationTokenSource(QueryTimeout, clock);
        try
        {
            await using var connection = await database.OpenAsync(timeout.Token);
            await connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT 1", cancellationToken: timeout.Token));
            _lastFailure = null;
            return null;
        }
        catch (Exception ex)
        {
            var failure = timeout.IsCancellationRequested
                ? $"{database.Dialect.Name} did not answer within {QueryTimeout.TotalSeconds:0} s."
                : $"{database.Dialect.Name} unreachable: {SchemaMigrator.Describe(ex)}";
            _lastFailure = failure;
            return HealthCheckResult.Unhealthy(failure);
        }
        finally
        {
            lock (_gate)
            {
                _running = null;
            }
        }
    }

    private sealed class Query(long startedAt)
    {
        public Task<HealthCheckResult?> Task { get; set; } = null!;

        public long StartedAt { get; } = startedAt;
    }
}
