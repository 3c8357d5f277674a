using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Stream.Wire;

namespace DingTalk.CardGateway.Stream;

/// <summary>
/// One WebSocket to DingTalk. It reads frames (reassembling fragments, discarding any over the size bound),
/// answers SYSTEM frames itself (ping → echo, disconnect → ask for a replacement), hands the others to
/// <see cref="StreamFrameHandler"/> with a bounded number in flight (a frame that waits its whole budget for a slot is
/// answered <c>{}</c> in time and handled once a slot frees), writes one answer at a time, and aborts itself when nothing
/// arrives for <see cref="StreamOptions.IdleTimeout"/> or an answer cannot be written within <see cref="StreamOptions.SendTimeout"/>.
/// </summary>
internal sealed partial class StreamSession : IAsyncDisposable
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Frames read and waiting for a slot, per slot: past that, reading pauses, so a flood is held off in DingTalk's queue, not in memory.</summary>
    internal const int WaitingPerSlot = 4;

    /// <summary>
    /// The idle deadline found passed by this much — by the idle timer, a frame or the socket's end — means the gateway's
    /// own process stood still meanwhile (a paused VM or container, a long GC pause, a host asleep): it heard nothing because
    /// it listened to nothing, which says nothing of DingTalk. A timer is seconds late for no other reason.
    /// </summary>
    internal static readonly TimeSpan StandstillThreshold = TimeSpan.FromSeconds(2);

    /// <summary>
    /// After a standstill, how long the connection gets to show it lives before it is judged silent: what DingTalk sent
    /// meanwhile sits in the socket and is read at once, and a socket DingTalk dropped meanwhile fails at once, saying so.
    /// </summary>
    internal static readonly TimeSpan ResumeGrace = TimeSpan.FromSeconds(1);

    private readonly ClientWebSocket _socket;
    private readonly StreamFrameHandler _frames;
    private readonly SemaphoreSlim _inFlightLimit;
    private readonly SemaphoreSlim _waitingLimit;
    private readonly StreamOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly CancellationTokenSource _gone = new();
    private readonly CancellationTokenSource _aborted = new(); // ends the waits for a frame slot (and the receive loop's, while too many wait)
    private readonly ConcurrentDictionary<long, Task> _inFlight = new();
    private readonly TaskCompletionSource<string> _replaceRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ITimer _idle;
    private readonly Lock _watch = new(); // the idle timer's arming and judging
    private long _idleArmedAt;
    private TimeSpan _idleWait;
    private TimeSpan? _stoodStill; // a standstill was seen, and no frame has come since
    private bool _watched = true; // false once the idle timer dropped the connection, or the socket went
    private string? _endReason;
    private long _framesReceived;
    private int _answersLost;
    private int _leftWhileClosing;
    private long _nextFrame;
    private readonly Lock _admission = new(); // taking a frame up and beginning to close exclude each other
    private volatile bool _closing;

    private StreamSession(
        int number, Uri endpoint, ClientWebSocket socket, StreamOptions options, StreamFrameHandler frames, SemaphoreSlim inFlightLimit, TimeProvider clock, ILogger logger)
    {
        Number = number;
        Endpoint = endpoint;
        _socket = socket;
        _options = options;
        _frames = frames;
        _inFlightLimit = inFlightLimit;
        _waitingLimit = new SemaphoreSlim(WaitingPerSlot * options.MaxFramesInFlight);
        _clock = clock;
        _logger = logger;
        ConnectedAt = clock.GetUtcNow();
        _idleArmedAt = clock.GetTimestamp();
        _idleWait = options.IdleTimeout;
        _idle = clock.CreateTimer(_ => OnIdle(), null, options.IdleTimeout, Timeout.InfiniteTimeSpan);
        Completion = ReceiveAsync();
    }

    /// <summary>1 for the first connection of the process, then 2, 3, …</summary>
    public int Number { get; }

    /// <summary>Where it is connected, without the ticket.</summary>
    public Uri Endpoint { get; }

    public DateTimeOffset ConnectedAt { get; }

    public long FramesReceived => Interlocked.Read(ref _framesReceived);

    /// <summary>It was dropped because an answer could not be written in time (DingTalk stopped reading it).</summary>
    public bool SendStalled { get; private set; }

    /// <summary>Frames that came as it closed and were left unanswered for DingTalk to push again (5015).</summary>
    public int FramesLeftWhileClosing => Volatile.Read(ref _leftWhileClosing);

    /// <summary>When the socket went; set before <see cref="Completion"/> completes.</summary>
    public DateTimeOffset? EndedAt { get; private set; }

    /// <summary>Completes, with the reason, once the socket is gone.</summary>
    public Task<string> Completion { get; }

    /// <summary>Completes, with DingTalk's reason, when DingTalk sends <c>disconnect</c>: open a new connection now.</summary>
    public Task<string> ReplaceRequested => _replaceRequested.Task;

    /// <summary>Connects to <paramref name="endpoint"/> with <paramref name="ticket"/> (URL-encoded) and starts reading.</summary>
    public static async Task<StreamSession> ConnectAsync(
        int number,
        Uri endpoint,
        string ticket,
        StreamOptions options,
        StreamFrameHandler frames,
        SemaphoreSlim inFlightLimit,
        TimeProvider clock,
        ILogger logger,
        CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = options.KeepAliveInterval;
        if (options.KeepAliveInterval > TimeSpan.Zero)
        {
            // A pong missing this long drops the socket even while DingTalk's own pings are late.
            socket.Options.KeepAliveTimeout = options.KeepAliveInterval;
        }

        using var timeout = new CancellationTokenSource(ConnectTimeout, clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await socket.ConnectAsync(WithTicket(endpoint, ticket), linked.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"the WebSocket connect did not finish within {ConnectTimeout.TotalSeconds:0} s");
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new StreamSession(number, endpoint, socket, options, frames, inFlightLimit, clock, logger);
    }

    /// <summary>
    /// Closes cleanly: no new frames are taken (DingTalk pushes them again elsewhere), the ones in flight get up to
    /// <paramref name="drain"/> to be answered, then the close handshake; whatever hangs is aborted.
    /// </summary>
    public async Task CloseAsync(string why, TimeSpan drain)
    {
        lock (_admission)
        {
            _closing = true; // from here no frame is taken up: every one taken is in _inFlight, which the drain waits for
        }

        try
        {
            await Task.WhenAll(_inFlight.Values).WaitAsync(drain, _clock);
        }
        catch (TimeoutException)
        {
            Log.DrainTimedOut(_logger, Number, _inFlight.Count, (long)drain.TotalMilliseconds);
        }

        Interlocked.CompareExchange(ref _endReason, why, null);
        try
        {
            await SendCloseAsync(WebSocketState.Open, "closing");
            await Completion.WaitAsync(CloseTimeout, _clock);
        }
        catch (Exception ex) when (IsSocketGone(ex) || ex is TimeoutException)
        {
            Abort();
        }
    }

    /// <summary>Aborts the socket if still open, lets the frames in flight finish (bounded), and frees everything.</summary>
    public async ValueTask DisposeAsync()
    {
        Abort();
        await Completion;
        try
        {
            // Their answers cannot leave any more, but a claimed callback is still seen through by the pipeline.
            await Task.WhenAll(_inFlight.Values).WaitAsync(_options.SendTimeout, _clock);
        }
        catch (TimeoutException)
        {
            Log.DrainTimedOut(_logger, Number, _inFlight.Count, (long)_options.SendTimeout.TotalMilliseconds);
        }

        if (Volatile.Read(ref _answersLost) is > 1 and var lost)
        {
            Log.AnswersLost(_logger, Number, lost);
        }

        await _idle.DisposeAsync();
        _socket.Dispose();
        _sending.Dispose();
        // _waitingLimit is not disposed: a frame answered {} while it waits for a slot outlives the wait above, and gives its place back when its turn comes.
        _gone.Dispose();
        _aborted.Dispose();
    }

    private static Uri WithTicket(Uri endpoint, string ticket)
    {
        var builder = new UriBuilder(endpoint);
        var query = builder.Query.TrimStart('?');
        builder.Query = (query.Length == 0 ? "" : query + "&") + "ticket=" + Uri.EscapeDataString(ticket);
        return builder.Uri;
    }

    private async Task<string> ReceiveAsync()
    {
        await Task.Yield();
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var message = new ArrayBufferWriter<byte>(16 * 1024);
        var oversized = false;
        try
        {
            while (true)
            {
                var received = await _socket.ReceiveAsync(chunk.AsMemory(), CancellationToken.None);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    var description = string.IsNullOrEmpty(_socket.CloseStatusDescription) ? "" : $": {_socket.CloseStatusDescription}";
                    Interlocked.CompareExchange(ref _endReason, $"DingTalk closed the connection ({_socket.CloseStatus}{description})", null);
                    await AnswerCloseAsync();
                    return _endReason!;
                }

                if (!oversized && message.WrittenCount + received.Count > _options.MaxFrameBytes)
                {
                    oversized = true;
                }

                if (!oversized)
                {
                    message.Write(chunk.AsSpan(0, received.Count));
                }

                if (!received.EndOfMessage)
                {
                    continue;
                }

                Interlocked.Increment(ref _framesReceived);
                Heard();
                if (oversized)
                {
                    oversized = false;
                    message.ResetWrittenCount();
                    Log.FrameTooLarge(_logger, Number, _options.MaxFrameBytes);
                    continue;
                }

                var parsed = StreamFrame.TryParse(message.WrittenMemory, out var frame, out var problem);
                message.ResetWrittenCount();
                if (!parsed)
                {
                    Log.FrameUnreadable(_logger, Number, problem!);
                    continue;
                }

                await DispatchAsync(frame!);
            }
        }
        catch (Exception ex) when (IsSocketGone(ex))
        {
            Interlocked.CompareExchange(ref _endReason, $"the connection failed ({Describe(ex)})", null);
            return _endReason!;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
            EndedAt = _clock.GetUtcNow();
            lock (_watch)
            {
                NoticeStandstill(); // the socket found gone long past the idle deadline: the gateway stood still, and says so before the loss is logged
                _watched = false;
                _idle.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
            await _gone.CancelAsync();
        }
    }

    private async Task DispatchAsync(StreamFrame frame)
    {
        if (frame.Type == StreamTopics.System)
        {
            await AnswerSystemAsync(frame);
            return;
        }

        if (_closing)
        {
            LeftWhileClosing(frame);
            return;
        }

        // The budget counts from here, as DingTalk's 2 seconds do: a frame waits for its slot off the receive loop, so the
        // frames behind it are read (and their budgets begin) as they come, not once a slot frees.
        var arrivedAt = _clock.GetTimestamp();
        await _waitingLimit.WaitAsync(_aborted.Token); // that many waiting already: the socket is not read until one is taken up
        lock (_admission)
        {
            if (_closing)
            {
                _waitingLimit.Release();
                LeftWhileClosing(frame);
                return;
            }

            var id = Interlocked.Increment(ref _nextFrame);
            var handling = Task.Run(() => TakeUpAsync(frame, arrivedAt));
            _inFlight[id] = handling; // from here the drain waits for it
            _ = handling.ContinueWith(_ => _inFlight.TryRemove(id, out var _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// Waits for a frame slot for as long as the frame's budget lasts, keeping its waiting place meanwhile. A frame still
    /// waiting when its budget is spent is answered <c>{}</c> then, rather than late once a slot frees, and its click is
    /// handled once one does — never outside the limit: a burst of slow clicks runs no more handlers at once than there are
    /// slots, and keeps the socket unread (DingTalk holding the rest) while every waiting place is taken. A slot is held
    /// until the frame's click is through, a handler that overran its budget included.
    /// </summary>
    private async Task TakeUpAsync(StreamFrame frame, long arrivedAt)
    {
        bool slot;
        try
        {
            slot = await _inFlightLimit.WaitAsync(_frames.BudgetLeft(arrivedAt), _aborted.Token);
        }
        catch (OperationCanceledException)
        {
            _waitingLimit.Release();
            return; // the socket went: DingTalk pushes it again
        }

        if (!slot)
        {
            await AnswerBeforeTurnAsync(frame, arrivedAt);
            return;
        }

        _waitingLimit.Release();
        try
        {
            if (_closing)
            {
                // Closing began while it waited: not taken up, so DingTalk pushes it again rather than its answer being lost after the close.
                LeftWhileClosing(frame);
                return;
            }

            await _frames.HandleAsync(frame, arrivedAt, SendAsync, _gone.Token);
        }
        catch (OperationCanceledException) when (_gone.IsCancellationRequested)
        {
            // the socket went while the frame was handled: DingTalk pushes it again
        }
        catch (Exception ex)
        {
            Log.HandlingFailed(_logger, ex, frame.MessageId, Number);
        }
        finally
        {
            _inFlightLimit.Release();
        }
    }

    /// <summary>
    /// Its budget went by while every slot was busy: answered now, its click handled once a slot frees. Once answered it is
    /// DingTalk's no more — it is not pushed again — so neither the socket going nor the connection closing stops its wait:
    /// a stopping gateway waits for it as for a handler that overran (<see cref="Callbacks.HandlerDrain"/>). Closing before
    /// it is answered, it is left for DingTalk to push again, as one still waiting within its budget is.
    /// </summary>
    private async Task AnswerBeforeTurnAsync(StreamFrame frame, long arrivedAt)
    {
        lock (_admission)
        {
            if (_closing)
            {
                _waitingLimit.Release();
                LeftWhileClosing(frame);
                return;
            }
        }

        Log.WaitedPastBudget(_logger, frame.MessageId, Number, _options.MaxFramesInFlight);
        var slot = false;
        try
        {
            await _frames.AnswerBeforeTurnAsync(frame, arrivedAt, SendAsync, TakeTurnAsync);
        }
        catch (Exception ex)
        {
            Log.HandlingFailed(_logger, ex, frame.MessageId, Number);
        }
        finally
        {
            (slot ? _inFlightLimit : _waitingLimit).Release(); // a frame that runs no handler took no slot
        }

        async Task TakeTurnAsync()
        {
            await _inFlightLimit.WaitAsync(CancellationToken.None);
            slot = true;
            _waitingLimit.Release(); // from here the frame is in flight, and the receive loop may read one more
        }
    }

    /// <summary>Not taken up: closing began. DingTalk pushes it again, since it is never answered.</summary>
    private void LeftWhileClosing(StreamFrame frame)
    {
        Interlocked.Increment(ref _leftWhileClosing);
        Log.IgnoredWhileClosing(_logger, frame.MessageId, Number);
    }

    private Task AnswerSystemAsync(StreamFrame frame)
    {
        switch (frame.Topic)
        {
            case StreamTopics.Ping:
                return SendAsync(StreamAck.Ok(frame.MessageId, frame.Data));
            case StreamTopics.Disconnect:
                _replaceRequested.TrySetResult($"DingTalk sent disconnect ({DisconnectReason(frame.Data)})");
                return SendAsync(StreamAck.Ok(frame.MessageId, ""));
            default:
                // DingTalk's own topics besides these two (its SDKs name CONNECTED, REGISTERED, KEEPALIVE): every frame is
                // answered 200, and DingTalk's Python SDK echoes a SYSTEM frame's data whatever its topic.
                Log.SystemEchoed(_logger, frame.Topic, frame.MessageId, Number);
                return SendAsync(StreamAck.Ok(frame.MessageId, frame.Data));
        }
    }

    /// <summary>Writes one answer; never throws (a lost answer is logged, and DingTalk pushes the frame again).</summary>
    private async Task SendAsync(StreamAck ack)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(ack, GatewayJson.Options);
        using var timeout = new CancellationTokenSource(_options.SendTimeout, _clock);
        try
        {
            await _sending.WaitAsync(timeout.Token);
            try
            {
                await _socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
            }
            finally
            {
                _sending.Release();
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            Stalled();
            AnswerLost(ack.Headers.MessageId, $"it could not be written within {_options.SendTimeout.TotalSeconds:0.###} s");
        }
        catch (Exception ex) when (IsSocketGone(ex))
        {
            // Dropped on purpose (idle, stalled), the socket says only that it is disposed or aborted: say why it went instead.
            var why = ex is ObjectDisposedException or InvalidOperationException && Volatile.Read(ref _endReason) is { } ended ? $"the connection was dropped: {ended}" : ex.Message;
            AnswerLost(ack.Headers.MessageId, why);
        }
    }

    /// <summary>
    /// The first answer a connection could not send is said (5013); the others, as many as the frames it had in flight when
    /// the socket went, at Debug (5019), and counted in one line as it is disposed (5018).
    /// </summary>
    private void AnswerLost(string messageId, string reason)
    {
        if (Interlocked.Increment(ref _answersLost) == 1)
        {
            Log.AnswerLost(_logger, messageId, Number, reason);
        }
        else
        {
            Log.AnotherAnswerLost(_logger, messageId, Number, reason);
        }
    }

    /// <summary>
    /// An answer could not be written in time (or waited that long behind one that could not): DingTalk stopped reading
    /// what the gateway sends. Its frames may still come, so neither the idle timer nor the keep-alive (which pings only
    /// when nothing arrives) would tell; the connection is dropped and replaced, said once however many answers were stuck.
    /// </summary>
    private void Stalled()
    {
        var reason = $"an answer could not be written within {_options.SendTimeout.TotalSeconds:0.###} s (DingTalk stopped reading the connection)";
        if (Interlocked.CompareExchange(ref _endReason, reason, null) is null)
        {
            SendStalled = true;
            Log.SendStalled(_logger, Number, (long)_options.SendTimeout.TotalMilliseconds);
        }

        Abort();
    }

    /// <summary>DingTalk started the close handshake: finish it.</summary>
    private async Task AnswerCloseAsync()
    {
        try
        {
            await SendCloseAsync(WebSocketState.CloseReceived, "bye");
        }
        catch (Exception ex) when (IsSocketGone(ex))
        {
            // gone either way
        }
    }

    /// <summary>Sends our close frame, in turn with the answers being written, if the socket is still in <paramref name="expected"/>.</summary>
    private async Task SendCloseAsync(WebSocketState expected, string description)
    {
        using var timeout = new CancellationTokenSource(CloseTimeout, _clock);
        await _sending.WaitAsync(timeout.Token);
        try
        {
            if (_socket.State == expected)
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, description, timeout.Token);
            }
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>
    /// Every message down the exception's chain: a socket the keep-alive gave up on fails with "Aborted", and only an inner
    /// exception says that no pong came.
    /// </summary>
    private static string Describe(Exception ex)
    {
        var messages = new List<string>();
        for (Exception? e = ex; e is not null; e = e is AggregateException { InnerExceptions.Count: > 0 } all ? all.InnerExceptions[0] : e.InnerException)
        {
            var message = e.Message.TrimEnd('.');
            if (e is not AggregateException && !messages.Exists(m => m.Contains(message, StringComparison.Ordinal)))
            {
                messages.Add(message);
            }
        }

        return string.Join(": ", messages);
    }

    private static bool IsSocketGone(Exception ex) =>
        ex is WebSocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException or IOException;

    /// <summary><see cref="ResumeGrace"/>, never longer than the idle timeout itself.</summary>
    private TimeSpan Grace => ResumeGrace < _options.IdleTimeout ? ResumeGrace : _options.IdleTimeout;

    /// <summary>A frame came: the connection lives; the idle timer starts again.</summary>
    private void Heard()
    {
        lock (_watch)
        {
            NoticeStandstill(); // a frame read long past the idle deadline, before the overdue timer ran: the gateway stood still
            _stoodStill = null;
            Arm(_options.IdleTimeout);
        }
    }

    /// <summary>
    /// Nothing came for <see cref="StreamOptions.IdleTimeout"/>: a silent connection, dropped to be replaced — unless the
    /// timer runs long past its time, when the silence was the gateway's own (it stood still): the connection then gets
    /// <see cref="ResumeGrace"/> to show it lives, and is judged on that.
    /// </summary>
    private void OnIdle()
    {
        string reason;
        lock (_watch)
        {
            if (!_watched)
            {
                return;
            }

            if (_idleWait - _clock.GetElapsedTime(_idleArmedAt) is { Ticks: > 0 } left)
            {
                _idle.Change(left, Timeout.InfiniteTimeSpan); // a frame came as this run was due (or it ran early): not idle yet
                return;
            }

            if (NoticeStandstill())
            {
                Arm(Grace);
                return;
            }

            _watched = false;
            reason = _stoodStill is { } stood
                ? $"no frame from DingTalk for {_idleWait.TotalSeconds:0.#} s after the gateway resumed from standing still at least {stood.TotalSeconds:0.#} s (a silent connection)"
                : $"no frame from DingTalk for {_options.IdleTimeout.TotalSeconds:0.#} s (a silent connection)";
        }

        Interlocked.CompareExchange(ref _endReason, reason, null);
        Abort();
    }

    /// <summary>Caller holds <see cref="_watch"/>.</summary>
    private void Arm(TimeSpan wait)
    {
        _idleArmedAt = _clock.GetTimestamp();
        _idleWait = wait;
        _idle.Change(wait, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// True, and said once, when the idle deadline is found passed by <see cref="StandstillThreshold"/> or more: the gateway
    /// stood still meanwhile. Caller holds <see cref="_watch"/>.
    /// </summary>
    private bool NoticeStandstill()
    {
        var late = _clock.GetElapsedTime(_idleArmedAt) - _idleWait;
        if (!_watched || late < StandstillThreshold)
        {
            return false;
        }

        _stoodStill = late;
        _idleArmedAt = _clock.GetTimestamp(); // said once: judged afresh from here
        _idleWait = TimeSpan.Zero;
        Log.StoodStill(_logger, Number, (long)late.TotalMilliseconds, (long)Grace.TotalMilliseconds);
        return true;
    }

    /// <summary>
    /// Drops the socket, and ends the receive loop even while it waits for a frame slot: it reads nothing then, so it
    /// would not see the socket go until a slot freed, and the connection would stay dead and unreplaced.
    /// </summary>
    private void Abort()
    {
        _socket.Abort();
        _aborted.Cancel(); // only slot waits are registered on it: nothing here throws
    }

    private static string DisconnectReason(string data)
    {
        try
        {
            using var document = JsonDocument.Parse(data);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("reason", out var reason) && reason.ValueKind == JsonValueKind.String
                ? reason.GetString()!
                : "no reason given";
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException) // InvalidOperation: half a surrogate pair
        {
            return "no reason given";
        }
    }

    private static partial class Log
    {
        [LoggerMessage(5031, LogLevel.Debug, "Stream SYSTEM frame on topic '{Topic}' ({MessageId}) on connection {Connection} answered 200 with its data echoed")]
        public static partial void SystemEchoed(ILogger logger, string topic, string messageId, int connection);

        [LoggerMessage(5011, LogLevel.Warning, "Stream frame on connection {Connection} ignored: {Problem:l}")]
        public static partial void FrameUnreadable(ILogger logger, int connection, string problem);

        [LoggerMessage(5012, LogLevel.Warning, "Stream frame on connection {Connection} discarded unanswered: larger than DingTalk:Stream:MaxFrameBytes ({MaxBytes} bytes)")]
        public static partial void FrameTooLarge(ILogger logger, int connection, int maxBytes);

        [LoggerMessage(5013, LogLevel.Warning, "The answer to Stream frame {MessageId} on connection {Connection} was not sent ({Reason:l}); DingTalk will push the frame again. Other answers this connection cannot send are logged at Debug (5019) and counted as it closes (5018)")]
        public static partial void AnswerLost(ILogger logger, string messageId, int connection, string reason);

        [LoggerMessage(5018, LogLevel.Warning, "Stream connection {Connection} closed with {Lost} answers not sent (the first said in 5013, each in 5019 at Debug); DingTalk pushes those frames again, and the clicks already handled are answered from their records, not handled twice")]
        public static partial void AnswersLost(ILogger logger, int connection, int lost);

        [LoggerMessage(5019, LogLevel.Debug, "The answer to Stream frame {MessageId} on connection {Connection} was not sent either ({Reason:l}); DingTalk will push the frame again")]
        public static partial void AnotherAnswerLost(ILogger logger, string messageId, int connection, string reason);

        [LoggerMessage(5014, LogLevel.Error, "Stream frame {MessageId} on connection {Connection} failed; left unanswered so that DingTalk pushes it again")]
        public static partial void HandlingFailed(ILogger logger, Exception exception, string messageId, int connection);

        [LoggerMessage(5015, LogLevel.Information, "Stream frame {MessageId} arrived on connection {Connection} while it closes; left for DingTalk to push again")]
        public static partial void IgnoredWhileClosing(ILogger logger, string messageId, int connection);

        [LoggerMessage(5042, LogLevel.Warning, "Stream frame {MessageId} on connection {Connection} waited its whole answer budget (Gateway:Callbacks:HandlerBudget) for a frame slot, all {MaxFramesInFlight} busy (DingTalk:Stream:MaxFramesInFlight): answered {{}} now, so DingTalk shows the user no error, and its click handled once a slot frees (its update for everyone follows then), never outside the limit")]
        public static partial void WaitedPastBudget(ILogger logger, string messageId, int connection, int maxFramesInFlight);

        [LoggerMessage(5041, LogLevel.Warning, "Stream connection {Connection}: an answer could not be written within {TimeoutMs} ms, so DingTalk has stopped reading what the gateway sends (its frames may still come): dropping the connection to open a new one; the frames left unanswered are pushed again")]
        public static partial void SendStalled(ILogger logger, int connection, long timeoutMs);

        [LoggerMessage(5017, LogLevel.Warning, "Stream connection {Connection}: the gateway itself stood still — the connection's idle deadline was found {OverdueMs} ms overdue, which only a process that was not running does (a paused VM or container, a long GC pause, a host asleep) — and answered nothing meanwhile. The silence was the gateway's own, so the connection is judged on what it does now: frames DingTalk sent meanwhile are read and answered late (or pushed again), a socket DingTalk dropped meanwhile is replaced, and one still quiet {GraceMs} ms from now is replaced as silent")]
        public static partial void StoodStill(ILogger logger, int connection, long overdueMs, long graceMs);

        [LoggerMessage(5016, LogLevel.Warning, "Stream connection {Connection} closed with {InFlight} frame(s) still being handled after {DrainMs} ms")]
        public static partial void DrainTimedOut(ILogger logger, int connection, int inFlight, long drainMs);
    }
}
