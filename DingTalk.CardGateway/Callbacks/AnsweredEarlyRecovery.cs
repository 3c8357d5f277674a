using System.Collections.Concurrent;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage.Sql;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// Handles the clicks a process answered <c>{}</c>, kept (<see cref="AnsweredEarlyJournal"/>) and died before committing:
/// each through the pipeline as a click answered early, or found recorded after all. On SQLite once the gateway has
/// started (one process owns the file: every kept click found then is a dead one's). On PostgreSQL every
/// <see cref="SweepInterval"/>, on every replica, the clicks kept longer than <see cref="Age"/> ago: a click still being
/// handled holds its claim, so a sweep only ever gets the click of a delivery that ended without a record.
/// </summary>
public sealed partial class AnsweredEarlyRecovery(
    AnsweredEarlyJournal journal,
    CallbackPipeline pipeline,
    IHostApplicationLifetime lifetime,
    TimeProvider clock,
    ILogger<AnsweredEarlyRecovery> logger) : BackgroundService
{
    /// <summary>How often a PostgreSQL replica looks for clicks another one kept and died with.</summary>
    public static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(5);

    /// <summary>How long a click stays kept before a sweep tries it: its own delivery is usually through by then.</summary>
    public static readonly TimeSpan Age = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, Task> _recovering = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!journal.Enabled || !await lifetime.WaitForStartedAsync(stoppingToken))
        {
            return;
        }

        do
        {
            try
            {
                var kept = await journal.KeptAsync(journal.Shared ? Age : TimeSpan.Zero, stoppingToken);
                var found = kept.Where(action => !_recovering.ContainsKey(action.CallbackId)).ToList();
                if (found.Count > 0)
                {
                    Log.Recovering(logger, found.Count);
                }

                foreach (var action in found)
                {
                    // Each on its own: one whose storage still fails is tried again for minutes (CallbackPipeline.TryAgainAsync).
                    _recovering[action.CallbackId] = RecoverAsync(action);
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Log.LookFailed(logger, RepeatedFailure.StackWorthLogging(ex), SchemaMigrator.Describe(ex));
            }
        }
        while (journal.Shared && await clock.DelayUnlessStoppedAsync(SweepInterval, stoppingToken));

        await Task.WhenAll(_recovering.Values);
    }

    private async Task RecoverAsync(CardAction action)
    {
        await Task.Yield();
        try
        {
            await pipeline.RecoverAsync(action); // never throws: what fails is said, and the click stays kept
        }
        finally
        {
            _recovering.TryRemove(action.CallbackId, out _);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3138, LogLevel.Warning, "{Clicks} click(s) answered {{}} by a process that died before committing them were found kept: handling them now")]
        public static partial void Recovering(ILogger logger, int clicks);

        [LoggerMessage(3139, LogLevel.Warning, "Could not look for clicks answered {{}} and kept by a process that died before committing them ({Reason}): looked for again in a few seconds (PostgreSQL) or at the next start (SQLite)")]
        public static partial void LookFailed(ILogger logger, Exception? exception, string reason);
    }
}
