namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// Once the gateway has started, handles the clicks a previous process answered <c>{}</c>, kept on disk, and died before
/// committing (<see cref="AnsweredEarlyJournal"/>): each through the pipeline as a click answered early, or found
/// recorded after all. SQLite only: one process owns the file, so every kept click found at startup is a dead one's.
/// </summary>
public sealed partial class AnsweredEarlyRecovery(
    AnsweredEarlyJournal journal,
    CallbackPipeline pipeline,
    IHostApplicationLifetime lifetime,
    ILogger<AnsweredEarlyRecovery> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!journal.Enabled)
        {
            return;
        }

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            try
            {
                await started.Task;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        var kept = journal.Kept();
        if (kept.Count == 0)
        {
            return;
        }

        Log.Recovering(logger, kept.Count);
        foreach (var action in kept)
        {
            await pipeline.RecoverAsync(action); // never throws: what fails is said, and the click kept for the next start
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3138, LogLevel.Warning, "{Clicks} click(s) answered {{}} by a process that died before committing them were kept on disk: handling them now")]
        public static partial void Recovering(ILogger logger, int clicks);
    }
}
