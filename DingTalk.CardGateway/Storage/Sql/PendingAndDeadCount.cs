namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The gauges of what is not done yet — the outbox's entries, the effects — counted from the database on a loop of their
/// own, every <see cref="OutboxOptions.CountInterval"/>: one query beside the writer for the whole table, and a loop that
/// goes on while its dispatcher waits on a slow DingTalk or a slow effect, which is when the count matters.
/// </summary>
internal static class PendingAndDeadCount
{
    /// <summary>How many rows of <paramref name="table"/> are pending and how many dead.</summary>
    public static async Task<(long Pending, long Dead)> QueryAsync(SqliteWriteBatcher batcher, string table, CancellationToken cancellationToken)
    {
        var counts = await batcher.QueryBesideAsync<(string Status, long Count)>(
            $"SELECT status, COUNT(*) FROM {table} WHERE status IN ('Pending', 'Dead') GROUP BY status", new { }, cancellationToken);
        return (counts.FirstOrDefault(c => c.Status == "Pending").Count, counts.FirstOrDefault(c => c.Status == "Dead").Count);
    }

    /// <summary>Runs <paramref name="count"/> every <paramref name="interval"/> until <paramref name="stoppingToken"/>; never throws.</summary>
    public static async Task LoopAsync(Func<CancellationToken, Task> count, Func<TimeSpan> interval, TimeProvider clock, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await count(stoppingToken);
                await Task.Delay(interval(), clock, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception) when (!stoppingToken.IsCancellationRequested)
            {
                // The dispatch loop says the database is away; the gauge keeps its last count until it is back.
                await Task.Delay(interval(), clock, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }
}
