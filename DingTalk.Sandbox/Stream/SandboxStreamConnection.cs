using System.Diagnostics.CodeAnalysis;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace DingTalk.Sandbox.Stream;

/// <summary>
/// One client's WebSocket, as DingTalk's side sees it: it pings on a timer, receives pushed frames and reads the
/// answers. Tests use it to misbehave the ways DingTalk does: <see cref="Drop"/>, <see cref="SendDisconnectAsync"/>,
/// <see cref="GoSilent"/>.
/// </summary>
[SuppressMessage("Reliability", "CA1001", Justification = "A test-facing view of a socket the sandbox owns; its token source is disposed when the socket ends.")]
public sealed class SandboxStreamConnection
{
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(5);

    private readonly SandboxStream _stream;
    private readonly WebSocket _socket;
    private readonly HttpContext _http;
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private int _framesSent;
    private int _answersReceived;
    private string? _closeReason;
    private DateTimeOffset? _closedAt;
    private volatile bool _silent;
    private volatile bool _goingAway;
    private volatile bool _ended;

    internal SandboxStreamConnection(SandboxStream stream, int id, IssuedTicket ticket, WebSocket socket, HttpContext http, DateTimeOffset connectedAt)
    {
        _stream = stream;
        _socket = socket;
        _http = http;
        Id = id;
        Ticket = ticket.Value;
        Ua = ticket.Ua;
        Subscriptions = ticket.Subscriptions;
        ConnectedAt = connectedAt;
    }

    /// <summary>1 for the first connection the sandbox accepted, then 2, 3, …</summary>
    public int Id { get; }

    /// <summary>The ticket it connected with (each one is good for one connection).</summary>
    public string Ticket { get; }

    public string? Ua { get; }

    /// <summary>What the client subscribed to in the open-connection call.</summary>
    public IReadOnlyList<StreamSubscription> Subscriptions { get; }

    public DateTimeOffset ConnectedAt { get; }

    /// <summary>Up, as far as the sandbox knows (false from the moment it is dropped or closed).</summary>
    public bool IsOpen => !_ended;

    /// <summary>Sends nothing (no pings, no frames) and ignores what it receives, while the socket stays up.</summary>
    public bool IsSilent => _silent;

    /// <summary>Sent <c>disconnect</c>: gets no new frames and closes after the grace period.</summary>
    public bool IsGoingAway => _goingAway;

    /// <summary>Completes when the socket is gone, whoever ended it.</summary>
    public Task Closed => _closed.Task;

    public DateTimeOffset? ClosedAt
    {
        get
        {
            lock (_gate)
            {
                return _closedAt;
            }
        }
    }

    /// <summary>Why it ended: the client closed it (with its status), it was dropped, or the sandbox closed it.</summary>
    public string? CloseReason
    {
        get
        {
            lock (_gate)
            {
                return _closeReason;
            }
        }
    }

    public int FramesSent => Volatile.Read(ref _framesSent);

    public int AnswersReceived => Volatile.Read(ref _answersReceived);

    /// <summary>Kills the socket without a close handshake, the way a network failure or a DingTalk restart does.</summary>
    public void Drop()
    {
        MarkClosed("dropped by the sandbox");
        Kill();
    }

    /// <summary>
    /// Closes the socket with the close handshake (1001, going away) and no <c>disconnect</c> frame first, as a DingTalk
    /// node does when it goes down in good order; drops it if the client does not answer the close within a couple of seconds.
    /// </summary>
    public Task CloseAsync() => ShutdownAsync();

    /// <summary>Stops pinging, pushing and answering, but keeps the socket (and its WebSocket pongs) up: a silent death.</summary>
    public void GoSilent() => _silent = true;

    /// <summary>
    /// Sends DingTalk's <c>SYSTEM disconnect</c> frame; from then on the connection gets no frames, and after
    /// <paramref name="closeAfter"/> (default <see cref="SandboxStream.DisconnectGrace"/>) the sandbox closes it.
    /// </summary>
    public async Task<SandboxStreamMessage> SendDisconnectAsync(string reason = "persistent connection is timeout", TimeSpan? closeAfter = null)
    {
        _goingAway = true;
        var message = await _stream.SendSystemAsync(this, StreamProtocol.DisconnectTopic, $"{{\"reason\":\"{reason}\"}}");
        _ = CloseLaterAsync(closeAfter ?? _stream.DisconnectGrace);
        return message;
    }

    /// <summary>Sends a <c>SYSTEM ping</c> now; its answer must echo <paramref name="data"/>.</summary>
    public Task<SandboxStreamMessage> PingAsync(string? data = null) =>
        _stream.SendSystemAsync(this, StreamProtocol.PingTopic, data ?? $"{{\"opaque\":\"{Guid.NewGuid():N}\"}}");

    /// <summary>
    /// Sends a <c>SYSTEM</c> frame on any topic, such as those DingTalk's own SDKs name besides ping and disconnect
    /// (<c>CONNECTED</c>, <c>REGISTERED</c>, <c>KEEPALIVE</c>); like every frame, it must be answered.
    /// </summary>
    public Task<SandboxStreamMessage> SendSystemAsync(string topic, string data) => _stream.SendSystemAsync(this, topic, data);

    /// <summary>Takes frames of this type and topic: subscribed, open, not silent, not going away.</summary>
    internal bool Takes(string type, string topic) =>
        IsOpen && !_silent && !_goingAway
        && Subscriptions.Any(s => s.Type == type && (s.Topic == topic || s.Topic == "*"));

    /// <summary>Writes one text frame; false when the socket is gone.</summary>
    internal async Task<bool> SendAsync(string text)
    {
        if (!IsOpen || _silent)
        {
            return false;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
        timeout.CancelAfter(SendTimeout);
        try
        {
            await _sending.WaitAsync(timeout.Token);
            try
            {
                var bytes = Encoding.UTF8.GetBytes(text);
                var fragment = Math.Max(1, _stream.FragmentBytes ?? bytes.Length);
                for (var offset = 0; offset < bytes.Length || offset == 0; offset += fragment)
                {
                    var end = Math.Min(bytes.Length, offset + fragment);
                    await _socket.SendAsync(bytes.AsMemory(offset, end - offset), WebSocketMessageType.Text, endOfMessage: end == bytes.Length, timeout.Token);
                }
            }
            finally
            {
                _sending.Release();
            }

            Interlocked.Increment(ref _framesSent);
            return true;
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Runs the connection until the socket is gone: reads answers, pings on a timer.</summary>
    internal async Task RunAsync()
    {
        var pinging = PingAsync(_closing.Token);
        try
        {
            await ReceiveAsync();
        }
        finally
        {
            MarkClosed("the socket ended");
            await _closing.CancelAsync();
            await pinging;
            _stream.Closed(this);
            _closed.TrySetResult();
            _closing.Dispose();
        }
    }

    /// <summary>Closes with 1001 (going away) and drops whatever has not closed a couple of seconds later.</summary>
    internal async Task ShutdownAsync()
    {
        MarkClosed("the sandbox is stopping");
        await CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, "shutting down");
        try
        {
            await _closed.Task.WaitAsync(TimeSpan.FromSeconds(2), _stream.Time);
        }
        catch (TimeoutException)
        {
            Kill();
        }
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        var tooLarge = false;
        try
        {
            while (true)
            {
                var received = await _socket.ReceiveAsync(buffer.AsMemory(), _http.RequestAborted);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    MarkClosed($"the client closed it ({_socket.CloseStatus} {_socket.CloseStatusDescription})".TrimEnd());
                    await CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye");
                    return;
                }

                if (!tooLarge)
                {
                    message.Write(buffer, 0, received.Count);
                    tooLarge = message.Length > _stream.MaxAnswerBytes;
                }

                if (!received.EndOfMessage)
                {
                    continue;
                }

                var text = tooLarge ? null : Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
                var binary = received.MessageType == WebSocketMessageType.Binary;
                message.SetLength(0);
                if (_silent)
                {
                    continue;
                }

                Interlocked.Increment(ref _answersReceived);
                if (tooLarge)
                {
                    tooLarge = false;
                    _stream.ProtocolError(this, null, $"an answer larger than {_stream.MaxAnswerBytes} bytes", "");
                }
                else if (binary)
                {
                    _stream.ProtocolError(this, null, "a binary frame: DingTalk's Stream protocol is JSON text frames", "");
                }
                else
                {
                    _stream.Received(this, text!);
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException or BadHttpRequestException)
        {
            MarkClosed($"the socket failed: {e.Message}");
        }
    }

    private async Task PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var interval = _stream.PingInterval;
                await Task.Delay(interval > TimeSpan.Zero ? interval : TimeSpan.FromMilliseconds(250), _stream.Time, cancellationToken);
                if (interval > TimeSpan.Zero && !_silent && !_goingAway)
                {
                    await PingAsync();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // closed
        }
    }

    private async Task CloseLaterAsync(TimeSpan grace)
    {
        try
        {
            await Task.Delay(grace, _stream.Time, _closing.Token);
        }
        catch (OperationCanceledException)
        {
            return; // the client went first
        }

        MarkClosed("closed by the sandbox after disconnect");
        await CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "disconnect");
        try
        {
            await _closed.Task.WaitAsync(CloseHandshakeTimeout, _stream.Time);
        }
        catch (TimeoutException)
        {
            Kill();
        }
    }

    /// <summary>Resets the TCP connection under the socket; harmless when it is already gone.</summary>
    private void Kill()
    {
        try
        {
            _http.Abort();
        }
        catch (ObjectDisposedException)
        {
            // the request is over: the socket went with it
        }

        _socket.Abort();
    }

    private async Task CloseOutputAsync(WebSocketCloseStatus status, string description)
    {
        using var timeout = new CancellationTokenSource(CloseHandshakeTimeout);
        try
        {
            await _sending.WaitAsync(timeout.Token);
            try
            {
                if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await _socket.CloseOutputAsync(status, description, timeout.Token);
                }
            }
            finally
            {
                _sending.Release();
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException or IOException)
        {
            // already gone
        }
    }

    /// <summary>The first reason wins; the socket's end completes <see cref="Closed"/> only from <see cref="RunAsync"/>.</summary>
    private void MarkClosed(string reason)
    {
        lock (_gate)
        {
            _closeReason ??= reason;
            _closedAt ??= _stream.Time.GetUtcNow();
            _ended = true;
        }
    }
}
