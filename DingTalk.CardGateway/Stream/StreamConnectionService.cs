using System.Net.WebSockets;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Stream.Wire;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Stream;

/// <summary>
/// Keeps one Stream connection to DingTalk open while <c>DingTalk:Stream:Enabled</c>: a fresh ticket for every
/// connect; after a loss, capped exponential backoff with jitter; on <c>disconnect</c>, the new connection first
/// and the old one closed once it is up; on stop, frames in flight answered before the socket closes.
/// </summary>
public sealed partial class StreamConnectionService(
    IDingTalkStreamApi api,
    StreamFrameHandler frames,
    StreamConnectionStatus status,
    IOptionsMonitor<DingTalkOptions> dingTalk,
    IOptions<DingTalkOptions> startup,
    IHostApplicationLifetime lifetime,
    GatewayMetrics metrics,
    StopReport stopReport,
    TimeProvider clock,
    ILoggerFactory loggers,
    ILogger<StreamConnectionService> logger) : BackgroundService
{
    /// <summary>Sent as <c>ua</c> when opening a connection.</summary>
    public static readonly string UserAgent = $"dingtalk-card-gateway/{typeof(StreamConnectionService).Assembly.GetName().Version?.ToString(3) ?? "0.0.0"}";

    /// <summary>The only subscription: advanced-card callbacks.</summary>
    public static readonly IReadOnlyList<StreamSubscription> Subscriptions = [new(StreamTopics.Callback, StreamTopics.CardCallback)];

    /// <summary>
    /// A connection that ends sooner than this — lost, or asked by DingTalk to be replaced — counts as one more failure in
    /// a row: the next connection waits the backoff first. Repeated disconnects right after connecting would otherwise
    /// have the gateway reconnect as fast as the open call allows: a reconnect storm.
    /// </summary>
    public static readonly TimeSpan MinHealthyLifetime = TimeSpan.FromSeconds(10);

    /// <summary>How long frames in flight get to be answered when a connection is closed on purpose.</summary>
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // ApplicationStopping comes first: close while the server still runs, so answers in flight still leave.
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, lifetime.ApplicationStopping);
        await RunAsync(stopping.Token);
    }

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        var settings = dingTalk.CurrentValue.Stream;
        // Read where the card sender and readiness read it: a reloaded configuration changes none of the three.
        if (!startup.Value.Stream.Enabled)
        {
            status.Set(StreamConnectionState.Disabled, "Stream mode is off (DingTalk:Stream:Enabled).", clock.GetUtcNow());
            return;
        }

        status.Set(StreamConnectionState.Connecting, "Opening the Stream connection to DingTalk.", clock.GetUtcNow());
        if (!await lifetime.WaitForStartedAsync(stoppingToken))
        {
            return;
        }

        // Not disposed: a frame answered {} while it waits for a slot is handled once one frees, after its connection and
        // this loop may be gone (a stopping gateway waits for it: HandlerDrain), and its handler gives the slot back then.
        var inFlightLimit = new SemaphoreSlim(settings.MaxFramesInFlight, settings.MaxFramesInFlight);
        var backoff = new ReconnectBackoff(settings.BackoffMin, settings.BackoffMax);
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var onStop = stoppingToken.Register(() => stopped.TrySetResult());
        var retiring = new List<Task>();
        StreamSession? current = null;
        StreamSession? leaving = null; // sent disconnect: closed once its successor is up
        (DateTimeOffset Since, string Why)? down = (clock.GetUtcNow(), "starting");
        var opened = 0;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                retiring.RemoveAll(t => t.IsCompleted);
                try
                {
                    current = await OpenAsync(opened + 1, inFlightLimit, stoppingToken);
                    opened = current.Number;
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    var delay = backoff.Next();
                    var why = Describe(ex);
                    status.Set(
                        opened == 0 ? StreamConnectionState.Connecting : StreamConnectionState.Reconnecting,
                        $"Cannot open a Stream connection: {why}. Next attempt in {delay.TotalSeconds:0.#} s.",
                        clock.GetUtcNow());
                    Log.OpenFailed(logger, backoff.Failures, why, (long)delay.TotalMilliseconds);
                    metrics.StreamEvent("open_failed");
                    if (leaving is { Completion.IsCompleted: true })
                    {
                        LeavingLost(delay);
                    }

                    if (!await DelayWatchingLeavingAsync(delay, stoppingToken))
                    {
                        break;
                    }

                    continue;
                }

                if (leaving is { Completion.IsCompleted: true })
                {
                    LeavingLost(TimeSpan.Zero); // gone before its successor opened: a loss, and the new connection says how long there was none
                }

                if (leaving is not null)
                {
                    retiring.Add(RetireAsync(leaving, $"replaced by connection {current.Number}"));
                    leaving = null;
                }

                Connected(current, down);
                down = null;

                var ended = await Task.WhenAny(current.Completion, current.ReplaceRequested, stopped.Task);
                if (ended == stopped.Task || stoppingToken.IsCancellationRequested)
                {
                    break;
                }

                if (ended == current.ReplaceRequested)
                {
                    Log.Replacing(logger, current.Number, current.ReplaceRequested.Result);
                    metrics.StreamEvent("replaced");
                    status.Connected(current.Number, $"Connected (connection {current.Number}); DingTalk asked for a new connection, opening it.", clock.GetUtcNow());
                    (leaving, current) = (current, null);
                    var lived = clock.GetUtcNow() - leaving.ConnectedAt;
                    if (lived >= MinHealthyLifetime) // a routine hand-over
                    {
                        backoff.Reset();
                        continue; // at once, while the old one still serves
                    }

                    // Asked to go right after it came: the next of a series, not a routine hand-over (the old one still serves meanwhile).
                    var pause = backoff.Next();
                    Log.ReplacingSoon(logger, leaving.Number, (long)lived.TotalMilliseconds, backoff.Failures, (long)pause.TotalMilliseconds);
                    if (!await DelayWatchingLeavingAsync(pause, stoppingToken))
                    {
                        break;
                    }

                    continue;
                }

                var reason = await current.Completion;
                var lost = current;
                current = null;
                if (lost.FramesReceived > 0 && clock.GetUtcNow() - lost.ConnectedAt >= MinHealthyLifetime)
                {
                    backoff.Reset(); // it worked for a while: this is a new failure, not the next of a series
                }

                retiring.Add(lost.DisposeAsync().AsTask()); // its frames in flight finish meanwhile; reconnecting does not wait
                var wait = backoff.Next();
                down = (clock.GetUtcNow(), reason);
                status.Set(StreamConnectionState.Reconnecting, $"Stream connection {lost.Number} lost: {reason}. Reconnecting in {wait.TotalSeconds:0.#} s.", clock.GetUtcNow());
                Log.Lost(logger, lost.Number, reason, (long)wait.TotalMilliseconds);
                CountLoss(lost);
                if (!await clock.DelayUnlessStoppedAsync(wait, stoppingToken))
                {
                    break;
                }
            }
        }
        finally
        {
            var closing = new List<Task>(retiring);
            if (current is not null)
            {
                closing.Add(RetireAsync(current, "the gateway is stopping", stopping: true));
            }

            if (leaving is not null)
            {
                closing.Add(RetireAsync(leaving, "the gateway is stopping", stopping: true));
            }

            await Task.WhenAll(closing);
            status.Set(StreamConnectionState.Reconnecting, "The gateway is stopping: Stream connection closed.", clock.GetUtcNow());
            Log.Stopped(logger);
        }

        // Waits before the next attempt; the connection asked to go, still serving meanwhile, may close first (DingTalk
        // closes it about 10 s after its disconnect): reported at once, so readiness does not say Connected with none.
        async Task<bool> DelayWatchingLeavingAsync(TimeSpan delay, CancellationToken cancellationToken)
        {
            var waiting = clock.DelayUnlessStoppedAsync(delay, cancellationToken);
            if (leaving is { } watched && await Task.WhenAny(waiting, watched.Completion) == watched.Completion)
            {
                LeavingLost(delay);
            }

            return await waiting;
        }

        // The connection asked to go ended before a successor opened: not a hand-over but a loss, logged and counted as
        // one, and the next connection logs how long there was none.
        void LeavingLost(TimeSpan wait)
        {
            var gone = leaving!;
            var why = gone.Completion.Result;
            down = (gone.EndedAt ?? clock.GetUtcNow(), why);
            if (status.State == StreamConnectionState.Connected)
            {
                status.Set(StreamConnectionState.Reconnecting, $"Stream connection {gone.Number} lost: {why}. Reconnecting after the backoff.", clock.GetUtcNow());
            }

            Log.Lost(logger, gone.Number, why, (long)wait.TotalMilliseconds);
            CountLoss(gone);
            retiring.Add(gone.DisposeAsync().AsTask());
            leaving = null;
        }
    }

    private static string Describe(Exception ex) => DingTalkErrors.CauseOf(ex) switch
    {
        DingTalkApiException api => $"DingTalk refused it: {(int)api.StatusCode} {api.Code} ({api.DingTalkMessage}){DingTalkErrors.KeysToCheck(api.Code)}",
        WebSocketException ws => $"the WebSocket connect failed ({ws.Message})",
        HttpRequestException http => $"DingTalk is unreachable ({http.Message})",
        (TimeoutException or Polly.Timeout.TimeoutRejectedException) and var timeout => $"it timed out ({timeout.Message})",
        Polly.CircuitBreaker.BrokenCircuitException => "DingTalk failed repeatedly, so calls are paused (circuit open)",
        InvalidDataException unusable => unusable.Message,
        var other => $"{other.GetType().Name}: {other.Message}",
    };

    private async Task<StreamSession> OpenAsync(int number, SemaphoreSlim inFlightLimit, CancellationToken stoppingToken)
    {
        var settings = dingTalk.CurrentValue;

        OpenConnectionResponse? opened;
        try
        {
            opened = await api.OpenConnectionAsync(
                new OpenConnectionRequest(settings.AppKey!, settings.AppSecret!, UserAgent, Subscriptions), stoppingToken);
        }
        catch (DingTalkApiException ex) when (ex.Code == DingTalkErrors.UnreadableAnswer)
        {
            // A 2xx whose body is no JSON at all: a proxy's or a front's page, an XML answer, nothing (the reader names the
            // status and the content type).
            throw new InvalidDataException($"DingTalk answered no usable endpoint and ticket: {ex.DingTalkMessage}; {DingTalkErrors.CheckTheNetworkPath}");
        }

        // A JSON null reads as no answer at all: the same refusal as a missing ticket, not a NullReferenceException.
        if (opened is null
            || string.IsNullOrEmpty(opened.Ticket)
            || !Uri.TryCreate(opened.Endpoint, UriKind.Absolute, out var endpoint)
            || (endpoint.Scheme != Uri.UriSchemeWss && endpoint.Scheme != Uri.UriSchemeWs))
        {
            throw new InvalidDataException($"DingTalk answered no usable endpoint and ticket (endpoint '{opened?.Endpoint}')");
        }

        return await StreamSession.ConnectAsync(
            number, endpoint, opened.Ticket, settings.Stream, frames, inFlightLimit, clock, loggers.CreateLogger<StreamSession>(), stoppingToken);
    }

    private void Connected(StreamSession session, (DateTimeOffset Since, string Why)? down)
    {
        var now = clock.GetUtcNow();
        metrics.StreamEvent("connected");
        status.Connected(session.Number, $"Connected to DingTalk Stream at {session.Endpoint} (connection {session.Number}, since {now:u}).", now);
        if (down is { } was && session.Number > 1)
        {
            Log.Reconnected(logger, session.Number, session.Endpoint, (long)(now - was.Since).TotalMilliseconds, was.Why);
        }
        else
        {
            Log.Connected(logger, session.Number, session.Endpoint);
        }
    }

    /// <summary>A lost connection; one dropped because DingTalk stopped reading it is counted as such too.</summary>
    private void CountLoss(StreamSession session)
    {
        metrics.StreamEvent("lost");
        if (session.SendStalled)
        {
            metrics.StreamEvent("send_stalled");
        }
    }

    private async Task RetireAsync(StreamSession session, string why, bool stopping = false)
    {
        await session.CloseAsync(why, DrainTimeout);
        await session.DisposeAsync();
        Log.Retired(logger, session.Number, why);
        if (stopping)
        {
            // Not lost, but not handled here either: those users wait for DingTalk to push their clicks again.
            stopReport.StreamFramesLeft(session.FramesLeftWhileClosing);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(5001, LogLevel.Information, "Stream connection {Connection} open at {Endpoint}: card callbacks arrive over it")]
        public static partial void Connected(ILogger logger, int connection, Uri endpoint);

        [LoggerMessage(5002, LogLevel.Information, "Stream connection {Connection} open at {Endpoint} after {DownMs} ms without one (it went because {Reason:l})")]
        public static partial void Reconnected(ILogger logger, int connection, Uri endpoint, long downMs, string reason);

        [LoggerMessage(5003, LogLevel.Warning, "Stream connection attempt {Attempt} failed: {Reason:l}; next attempt in {DelayMs} ms")]
        public static partial void OpenFailed(ILogger logger, int attempt, string reason, long delayMs);

        [LoggerMessage(5004, LogLevel.Warning, "Stream connection {Connection} lost: {Reason:l}; reconnecting in {DelayMs} ms")]
        public static partial void Lost(ILogger logger, int connection, string reason, long delayMs);

        [LoggerMessage(5005, LogLevel.Information, "Stream connection {Connection}: {Reason:l}; opening a new connection before closing it")]
        public static partial void Replacing(ILogger logger, int connection, string reason);

        [LoggerMessage(5006, LogLevel.Information, "Stream connection {Connection} closed: {Reason:l}")]
        public static partial void Retired(ILogger logger, int connection, string reason);

        [LoggerMessage(5008, LogLevel.Warning, "Stream connection {Connection} was asked to be replaced {LivedMs} ms after it opened ({Failures} such in a row): waiting {DelayMs} ms before opening the next, so repeated disconnects do not become a reconnect storm")]
        public static partial void ReplacingSoon(ILogger logger, int connection, long livedMs, int failures, long delayMs);

        [LoggerMessage(5007, LogLevel.Information, "Stream mode stopped")]
        public static partial void Stopped(ILogger logger);
    }
}
