using Dapper;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Ready only while the database answers, and takes writes: a PostgreSQL server that is read-only (a standby after a
/// failover, <c>default_transaction_read_only</c>) is not ready, and while writes fail on a database that still answers
/// (a full disk; <see cref="StorageWrites"/>) the check is degraded — still ready, since no other replica could do
/// better on the same database, but saying why clicks are answered 503. One query at a time, whoever probes: a probe starts one (or joins
/// the one under way), waits for it within <see cref="ReadinessWait.Bound"/>, and else answers without it — with the
/// last one's failure, or that the database has not answered for so long — so a database that black-holes packets
/// (Npgsql then waits out its connect or command timeout, or longer) neither holds probes nor piles up connections.
/// A query unanswered after <see cref="QueryTimeout"/> is reported as such, though it stays the one under way until
/// Npgsql's connect or command timeout ends it.
/// </summary>
public sealed class StorageHealthCheck(GatewayDatabase database, TimeProvider clock, RefusedRequests? refusedRequests = null, DatabaseBack? databaseBack = null) : IHealthCheck
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
            return query.Task.Result
                ?? (database.Writes.Current is { } failing
                    ? HealthCheckResult.Degraded($"{database.Dialect.Name} answers, but its writes fail: {failing.Reason.TrimEnd('.')} ({failing.Count} failed from {failing.Since:yyyy-MM-dd HH:mm:ss}Z to {failing.Last:HH:mm:ss}Z; said until none fails for {database.Writes.Window.TotalSeconds:0} s).")
                    : HealthCheckResult.Healthy($"{database.Dialect.Name} reachable."));
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

            var readOnly = await query;
            _lastFailure = readOnly;
            if (readOnly is null)
            {
                refusedRequests?.WentThrough(); // answering again, whether or not a click came since
                databaseBack?.Answered(); // clicks waiting to try again try now
            }

            return readOnly is null ? null : HealthCheckResult.Unhealthy(readOnly);
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

    /// <summary>Null when the database takes writes, else why not (PostgreSQL: a standby, or read-only transactions).</summary>
    private async Task<string?> QueryAsync()
    {
        await using var connection = await database.OpenAsync(CancellationToken.None);
        if (database.Dialect is not PostgresDialect)
        {
            await connection.ExecuteScalarAsync<int>("SELECT 1");
            return null;
        }

        var (standby, readOnly) = await connection.QuerySingleAsync<(bool, bool)>(
            "SELECT pg_is_in_recovery(), current_setting('transaction_read_only') = 'on'");
        return standby ? "PostgreSQL takes no writes: the server is a standby (in recovery); point Gateway:Storage:ConnectionString at the primary, or add Target Session Attributes=read-write."
            : readOnly ? "PostgreSQL takes no writes: its transactions are read-only (default_transaction_read_only is on for this database or role)."
            : null;
    }

    private sealed class Query(long startedAt)
    {
        public Task<HealthCheckResult?> Task { get; set; } = null!;

        public long StartedAt { get; } = startedAt;
    }
}
