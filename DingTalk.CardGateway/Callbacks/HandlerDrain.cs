using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// Callbacks being handled, from their claim to their commit — a handler that overran its budget too, whose user
/// already has <c>{}</c>. When the gateway stops, their handlers are not cancelled at once: DingTalk will not deliver
/// an answered click again, so a handler cut off there would lose the click. The stop waits for them for up to
/// <see cref="CallbackHandlingOptions.StopGrace"/>, then cancels the handlers still running (their token) and waits a
/// little more for each to record its failure. Registered after storage and the typewriter's drain, so it stops before
/// them: what a handler finishing now commits, queues or starts typing still has the database, the outbox and the drain.
/// </summary>
public sealed partial class HandlerDrain(IOptionsMonitor<CallbackHandlingOptions> options, TimeProvider clock, ILogger<HandlerDrain> logger, Hosting.StopReport? stopReport = null) : IHostedService, IDisposable
{
    /// <summary>How long handlers cancelled at the end of the grace get to record their failure.</summary>
    public static readonly TimeSpan AfterCancel = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The host's stop timeout for a grace of <paramref name="grace"/> after a delay of <paramref name="delay"/>
    /// (<see cref="Hosting.StopDelay"/>): the host's own (30 s by default) unless the stop needs longer — the delay,
    /// this drain's grace and its wait after cancelling, the typewriter's, and ~10 s for the rest of the stop.
    /// </summary>
    public static TimeSpan ShutdownTimeout(TimeSpan configured, TimeSpan grace, TimeSpan delay = default)
    {
        var needed = delay + grace + AfterCancel + Handlers.TypewriterDrain.MaxWait + TimeSpan.FromSeconds(10);
        return needed > configured ? needed : configured;
    }

    /// <summary>
    /// <c>Gateway:Callbacks:StopGrace</c> as configured, for the host's own options: read from the configuration, not
    /// through <see cref="CallbackHandlingOptions"/>, whose binding throws on any bad value in the section while the host
    /// is built — before the gateway's startup check can say which value, in one line.
    /// </summary>
    public static TimeSpan ConfiguredGrace(IConfiguration configuration) =>
        Configured(configuration, nameof(CallbackHandlingOptions.StopGrace), new CallbackHandlingOptions().StopGrace);

    /// <summary><c>Gateway:Callbacks:StopDelay</c> as configured, for the host's own options, as <see cref="ConfiguredGrace"/>.</summary>
    public static TimeSpan ConfiguredDelay(IConfiguration configuration) =>
        Configured(configuration, nameof(CallbackHandlingOptions.StopDelay), new CallbackHandlingOptions().StopDelay);

    private static TimeSpan Configured(IConfiguration configuration, string key, TimeSpan unset) =>
        TimeSpan.TryParse(configuration[$"{CallbackHandlingOptions.Section}:{key}"], System.Globalization.CultureInfo.InvariantCulture, out var value) && value >= TimeSpan.Zero
            ? value
            : unset; // unset, or a value the startup check refuses anyway

    private readonly CancellationTokenSource _stopping = new();
    private readonly object _stop = new();
    private int _running;
    private bool _over;
    private TaskCompletionSource? _drained;
    private Task? _drain;

    /// <summary>
    /// The token handlers get: cancelled only once the stop's grace is over. A callback that still arrives once the gateway
    /// is disposed (a Stream frame the stop outlasted) gets one cancelled already, not an <see cref="ObjectDisposedException"/>
    /// that would be recorded as its handler's failure.
    /// </summary>
    public CancellationToken HandlersStopping => _stopping.TokenOrCancelled();

    /// <summary>
    /// The stop's drain has ended (drained, or given up past its grace): a callback that fails from now on is not waited for,
    /// so it is not tried again either.
    /// </summary>
    public bool IsOver => Volatile.Read(ref _over);

    /// <summary>Callbacks being handled now.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>A callback's handling begins: call <see cref="End"/> once, when it is committed (or given up).</summary>
    public void Begin() => Interlocked.Increment(ref _running);

    /// <summary>A callback begun with <see cref="Begin"/> is committed or given up.</summary>
    public void End()
    {
        if (Interlocked.Decrement(ref _running) == 0)
        {
            Volatile.Read(ref _drained)?.TrySetResult();
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>One drain, however many times the host is stopped (the app's own run and its host's owner may both stop it).</summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_stop)
        {
            return _drain ??= DrainAsync(cancellationToken);
        }
    }

    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        try
        {
            await DrainOnceAsync(cancellationToken);
        }
        finally
        {
            Volatile.Write(ref _over, true);
        }
    }

    private async Task DrainOnceAsync(CancellationToken cancellationToken)
    {
        var grace = options.CurrentValue.StopGrace;
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _drained, drained); // a full fence: the count is read after End can see it, or End sees no drain and the count reads 0
        if (Running == 0)
        {
            return;
        }

        Log.Waiting(logger, Running, (long)grace.TotalMilliseconds);
        if (await WaitAsync(drained.Task, grace, cancellationToken))
        {
            return;
        }

        Log.Cancelling(logger, Running, (long)grace.TotalMilliseconds);
        stopReport?.CallbacksCancelled(Running);
        await _stopping.CancelAsync();
        if (!await WaitAsync(drained.Task, AfterCancel, cancellationToken))
        {
            Log.NotDrained(logger, Running, (long)(grace + AfterCancel).TotalMilliseconds);
        }
    }

    public void Dispose() => _stopping.Dispose();

    private async Task<bool> WaitAsync(Task drained, TimeSpan limit, CancellationToken cancellationToken)
    {
        try
        {
            await drained.WaitAsync(limit, clock, cancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3109, LogLevel.Information, "Stopping: waiting for {Running} callback(s) being handled to finish (up to {GraceMs} ms, Gateway:Callbacks:StopGrace)")]
        public static partial void Waiting(ILogger logger, int running, long graceMs);

        [LoggerMessage(3107, LogLevel.Warning, "{Running} callback(s) were still being handled {GraceMs} ms into the stop (Gateway:Callbacks:StopGrace): their handlers are cancelled, and each click is recorded as failed")]
        public static partial void Cancelling(ILogger logger, int running, long graceMs);

        [LoggerMessage(3108, LogLevel.Error, "{Running} callback(s) had not ended {WaitMs} ms into the stop, even cancelled: the stop goes on without them, and what they did is rolled back")]
        public static partial void NotDrained(ILogger logger, int running, long waitMs);
    }
}
