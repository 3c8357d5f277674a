namespace DingTalk.CardGateway.Hosting;

public static class HostLifetimeExtensions
{
    /// <summary>
    /// Waits until the server listens (false if the host stops first). In Sandbox mode DingTalk is this process,
    /// and the callback URL is its own address: both exist only from then on.
    /// </summary>
    public static async Task<bool> WaitForStartedAsync(this IHostApplicationLifetime lifetime, CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var registration = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        try
        {
            await started.Task.WaitAsync(stoppingToken);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
