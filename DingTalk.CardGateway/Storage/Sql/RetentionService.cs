using Dapper;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Purges, hourly, callbacks (and with them their deduplication keys) and sent outbox entries older than
/// <c>Gateway:Storage:Retention</c>. Cards, handler state and dead letters stay.
/// </summary>
public sealed partial class RetentionService(
    GatewayDatabase database,
    IOptionsMonitor<GatewayOptions> options,
    TimeProvider clock,
    ILogger<RetentionService> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PurgeAsync(stoppingToken);
                await Task.Delay(Interval, clock, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.Failed(logger, ex);
                await Task.Delay(TimeSpan.FromMinutes(1), clock, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    public async Task<(int Callbacks, int OutboxEntries)> PurgeAsync(CancellationToken cancellationToken)
    {
        var cutoff = (clock.GetUtcNow() - options.CurrentValue.Storage.Retention).ToUnixTimeMilliseconds();
        await using var connection = await database.OpenAsync(cancellationToken);
        var callbacks = await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM callbacks WHERE received_at < @cutoff", new { cutoff }, cancellationToken: cancellationToken));
        var outbox = await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM outbox WHERE status = 'Sent' AND sent_at < @cutoff", new { cutoff }, cancellationToken: cancellationToken));
        if (callbacks + outbox > 0)
        {
            Log.Purged(logger, callbacks, outbox);
        }

        return (callbacks, outbox);
    }

    private static partial class Log
    {
        [LoggerMessage(4201, LogLevel.Information, "Retention purged {Callbacks} callbacks and {OutboxEntries} sent outbox entries")]
        public static partial void Purged(ILogger logger, int callbacks, int outboxEntries);

        [LoggerMessage(4202, LogLevel.Warning, "Retention purge failed; trying again in a minute")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
