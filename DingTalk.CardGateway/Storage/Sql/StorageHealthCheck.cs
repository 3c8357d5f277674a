using Dapper;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Ready only while the database answers. One <c>SELECT 1</c> at a time, whoever probes: a probe starts one (or joins
/// the one under way), waits for it within <see cref="ReadinessWait.Bound"/>, and else answers without it — with the
/// last one's failure, or that the database has not answered for so long — so a database that black-holes packets
/// (Npgsql then waits out its connect or command timeout, or longer) neither holds probes nor piles up connections.
/// A query unanswered after <see cref="QueryTimeout"/> is reported as such, though it stays the one under way until
/// Npgsql's connect or command timeout ends it.
/// </summary>
public sealed class StorageHealthCheck(GatewayDatabase database, TimeProvider clock) : IHealthCheck
{
    /// <summary>A query still unanswered after this: the check says the database did not answer within it (Npgsql's own timeouts end the query).</summary>
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
                _running.Task = RunAsync();
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
    /// <remarks>
    /// No cancellation token reaches Npgsql: it cancels a query by a request to the server, sent and waited for on the
    /// thread that cancels, and through a black hole that holds the thread for as long as Npgsql's own timeouts (30 s
    /// and more, measured). Those end the query; the check says why without waiting for them.
    /// </remarks>
    private async Task<HealthCheckResult?> RunAsync()
    {
        // Armed as the query starts, on the probe's thread, before it goes on the wire: a timeout armed only once the query
        // was sent would count from whenever that was, later than the probes that wait for it think.
        using var timeout = new CancellationTokenSource(QueryTimeout, clock);
        await Task.Yield(); // the probe publishes this query under the gate before it can end and clear it
        var query = QueryAsync();
        try
        {
            try
            {
                await query.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                // Probes say it meanwhile; this stays the one query under way until Npgsql gives it up.
                _lastFailure = $"{database.Dialect.Name} did not answer within {QueryTimeout.TotalSeconds:0} s.";
                await query;
            }

            _lastFailure = null;
            return null;
        }
        catch (Exception ex)
        {
            var failure = $"{database.Dialect.Name} unreachable: {SchemaMigrator.Describe(ex)}";
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

    private async Task QueryAsync()
    {
        await using var connection = await database.OpenAsync(CancellationToken.None);
        await connection.ExecuteScalarAsync<int>("SELECT 1");
    }

    private sealed class Query(long startedAt)
    {
        public Task<HealthCheckResult?> Task { get; set; } = null!;

        public long StartedAt { get; } = startedAt;
    }
}
