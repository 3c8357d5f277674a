using System.Runtime.InteropServices;
using DingTalk.CardGateway.Callbacks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// <c>Gateway:Callbacks:StopDelay</c>: a stopping gateway goes on taking clicks for this long, its readiness 503
/// (<c>stopping</c>), before it stops listening — for the moment after SIGTERM in which a Kubernetes Service or a load
/// balancer still sends it clicks (it takes the pod out while it sends the signal, not before). Without it those
/// clicks are refused. A second SIGTERM or SIGINT ends the delay at once. 0 (the default): the stop begins at once.
/// </summary>
/// <remarks>
/// The host runs every lifecycle service's <see cref="StoppingAsync"/> before any hosted service's <c>StopAsync</c>,
/// Kestrel's among them, so the server listens and the drains have not begun while this waits. The host's own
/// <c>ApplicationStopping</c> has fired by then: the Stream connection has closed (DingTalk pushes to the replicas
/// still connected), and no new effect is claimed.
/// </remarks>
public sealed partial class StopDelay(IOptionsMonitor<CallbackHandlingOptions> options, TimeProvider clock, ILogger<StopDelay> logger)
    : IHostedLifecycleService, IHealthCheck, IDisposable
{
    private readonly CancellationTokenSource _cutShort = new();
    private readonly CancellationTokenSource _over = new();
    private PosixSignalRegistration? _term;
    private PosixSignalRegistration? _interrupt;
    private int _signals;
    private long _began; // the clock's timestamp when the delay began; 0 before

    /// <summary>
    /// Cancelled as the stop proper begins: at once, or when the delay ends. What a click starts goes on through the
    /// delay (a text typed into its card) and is cut off here, as it was by <c>ApplicationStopping</c> before.
    /// </summary>
    public CancellationToken Over => _over.TokenOrCancelled();

    /// <summary>The gateway still takes clicks, but is stopping: readiness 503, so that nothing new is routed to it.</summary>
    public bool Delaying => Volatile.Read(ref _began) != 0;

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        // Counted here, beside the host's own console lifetime (which stops the host at the first): the second one ends the delay.
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Signalled);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Signalled);
        return Task.CompletedTask;
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        var delay = options.CurrentValue.StopDelay;
        if (delay > TimeSpan.Zero && Interlocked.CompareExchange(ref _began, clock.GetTimestamp(), 0) == 0)
        {
            Log.Delaying(logger, (long)delay.TotalMilliseconds);
            using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _cutShort.Token);
            await Task.Delay(delay, clock, either.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (either.IsCancellationRequested)
            {
                // A second signal, or the host's stop timeout (which counts the delay in: HandlerDrain.ShutdownTimeout).
                Log.CutShort(logger, (long)clock.GetElapsedTime(Volatile.Read(ref _began)).TotalMilliseconds);
            }
        }

        await _over.CancelAsync();
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(Delaying
            ? HealthCheckResult.Unhealthy($"Stopping: still answering clicks for up to {options.CurrentValue.StopDelay.TotalSeconds:0.###} s (Gateway:Callbacks:StopDelay), then it stops listening.")
            : HealthCheckResult.Healthy("Not stopping."));

    private void Signalled(PosixSignalContext context)
    {
        // Not cancelled here: the console lifetime's own registration stops the host at the first signal and keeps the
        // process from ending at once. A second one (Ctrl+C twice, a second docker stop) cuts the delay short.
        if (Interlocked.Increment(ref _signals) >= 2)
        {
            _cutShort.Cancel();
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        _term?.Dispose();
        _interrupt?.Dispose();
        _cutShort.Dispose();
        _over.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1115, LogLevel.Information, "Stopping in {DelayMs} ms (Gateway:Callbacks:StopDelay): clicks are still taken and answered meanwhile, readiness answers 503; a second SIGTERM or SIGINT stops at once")]
        public static partial void Delaying(ILogger logger, long delayMs);

        [LoggerMessage(1116, LogLevel.Information, "The stop's delay ended after {WaitedMs} ms, cut short (a second signal, or the host's stop timeout): the stop begins")]
        public static partial void CutShort(ILogger logger, long waitedMs);
    }
}
