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

    /// <summary>Waits <paramref name="delay"/> on <paramref name="clock"/>; false, at once, when the host stops first.</summary>
    public static async Task<bool> DelayUnlessStoppedAsync(this TimeProvider clock, TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(delay, clock, stoppingToken);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
