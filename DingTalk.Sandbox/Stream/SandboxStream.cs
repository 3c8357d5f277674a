using System.Globalization;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using DingTalk.Sandbox.Wire;
using Microsoft.AspNetCore.Http;

namespace DingTalk.Sandbox.Stream;

/// <summary>
/// DingTalk's side of Stream mode: single-use tickets, the WebSocket connections, and every frame pushed to
/// them with the answers they got. Like DingTalk it pings on a timer, pushes a frame to one subscribed
/// connection at random, pushes it again while it stays unanswered, and refuses answers of the wrong shape
/// (recorded in <see cref="ProtocolErrors"/>). The settings are plain properties so a test can change them.
/// </summary>
public sealed class SandboxStream : IDisposable
{
    private const int MaxKeptMessages = 10_000;

    private readonly Lock _gate = new();
    private readonly SandboxState _state;
    private readonly Dictionary<string, IssuedTicket> _tickets = new(StringComparer.Ordinal);
    private readonly List<SandboxStreamConnection> _connections = [];
    private readonly Dictionary<string, SandboxStreamMessage> _messages = new(StringComparer.Ordinal);
    private readonly List<SandboxStreamMessage> _messageOrder = [];
    private readonly List<SandboxStreamProtocolError> _errors = [];
    private readonly List<SandboxTicketRejection> _rejections = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _ticketsIssued;
    private int _nextConnectionId;
    private bool _disposed;

    internal SandboxStream(SandboxState state) => _state = state;

    /// <summary>DingTalk's tickets live about 90 s.</summary>
    public TimeSpan TicketLifetime { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>An unanswered frame is pushed again this long after it was sent (DingTalk: within about 60 s). Zero: never.</summary>
    public TimeSpan RedeliveryDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often each connection gets a <c>SYSTEM ping</c>. Zero: never.</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>After <c>disconnect</c>, how long before the sandbox closes the socket (DingTalk: about 10 s).</summary>
    public TimeSpan DisconnectGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>When set, every frame is written as WebSocket fragments of this many bytes (a client must reassemble them).</summary>
    public int? FragmentBytes { get; set; }

    /// <summary>
    /// When set, the open-connection call hands out this endpoint instead of the sandbox's own: a test's server that
    /// misbehaves below the Stream protocol (one that accepts the WebSocket and then hangs, say).
    /// </summary>
    public Uri? EndpointOverride { get; set; }

    /// <summary>A bigger answer is a protocol error.</summary>
    public int MaxAnswerBytes { get; set; } = 1024 * 1024;

    /// <summary>Tickets issued by <c>/v1.0/gateway/connections/open</c>.</summary>
    public int TicketsIssued
    {
        get
        {
            lock (_gate)
            {
                return _ticketsIssued;
            }
        }
    }

    /// <summary>Connect attempts refused for their ticket.</summary>
    public IReadOnlyList<SandboxTicketRejection> TicketRejections
    {
        get
        {
            lock (_gate)
            {
                return [.. _rejections];
            }
        }
    }

    /// <summary>Every connection accepted so far, open or not, oldest first.</summary>
    public IReadOnlyList<SandboxStreamConnection> Connections
    {
        get
        {
            lock (_gate)
            {
                return [.. _connections];
            }
        }
    }

    public IReadOnlyList<SandboxStreamConnection> OpenConnections
    {
        get
        {
            lock (_gate)
            {
                return [.. _connections.Where(c => c.IsOpen)];
            }
        }
    }

    /// <summary>Answers DingTalk would refuse or ignore (bad JSON, wrong shape, a bare card update, an unknown messageId, …).</summary>
    public IReadOnlyList<SandboxStreamProtocolError> ProtocolErrors
    {
        get
        {
            lock (_gate)
            {
                return [.. _errors];
            }
        }
    }

    /// <summary>The frames pushed so far (the most recent 10,000), oldest first.</summary>
    public IReadOnlyList<SandboxStreamMessage> Messages
    {
        get
        {
            lock (_gate)
            {
                return [.. _messageOrder];
            }
        }
    }

    internal TimeProvider Time => _state.Time;

    public SandboxStreamMessage? FindMessage(string messageId)
    {
        lock (_gate)
        {
            return _messages.GetValueOrDefault(messageId);
        }
    }

    /// <summary>Waits until a connection matches, e.g. <c>c =&gt; c.Id &gt; before &amp;&amp; c.IsOpen</c>.</summary>
    public async Task<SandboxStreamConnection> WaitForConnectionAsync(Func<SandboxStreamConnection, bool> match, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_connections.Find(c => match(c)) is { } found)
                {
                    return found;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Pushes a frame to one open connection subscribed to <paramref name="type"/> and <paramref name="topic"/>
    /// (at random among several, as DingTalk does), and again every <see cref="RedeliveryDelay"/> until it is answered.
    /// With no such connection it waits for the next redelivery round.
    /// </summary>
    /// <param name="messageId">Reuse one to push a frame DingTalk already sent (it does, even after a correct answer).</param>
    public async Task<SandboxStreamMessage> PushAsync(string type, string topic, string data, string? messageId = null)
    {
        var message = Register(type, topic, data, messageId, onlyConnectionId: null);
        await DeliverAsync(message);
        return message;
    }

    /// <summary>
    /// A user's click on an advanced card, as DingTalk pushes it on <see cref="StreamProtocol.CardCallbackTopic"/>.
    /// Refused (as DingTalk would never send it) unless the card exists and was created with <c>callbackType: STREAM</c>.
    /// </summary>
    /// <param name="parameters">The card's <c>params</c>, e.g. <c>new { action = "vote", option = "a" }</c>.</param>
    public Task<SandboxStreamMessage> PushCardCallbackAsync(string outTrackId, string userId, object parameters, string? messageId = null)
    {
        var card = _state.FindCard(outTrackId)
            ?? throw new InvalidOperationException($"DingTalk has no card {outTrackId}: there is nothing to click.");
        if (card.CallbackType != "STREAM")
        {
            throw new InvalidOperationException(
                $"Card {outTrackId} was created with callbackType '{card.CallbackType}': DingTalk delivers its callbacks over HTTP, never over Stream.");
        }

        var data = CardCallbackBody.Advanced(card, userId, JsonSerializer.SerializeToNode(parameters));
        return PushAsync(StreamProtocol.Callback, StreamProtocol.CardCallbackTopic, data.ToJsonString(), messageId);
    }

    /// <summary>Writes a frame to this connection whatever it subscribed to, once (no redelivery): for frames DingTalk sends unasked.</summary>
    public async Task<SandboxStreamMessage> PushToAsync(SandboxStreamConnection connection, string type, string topic, string data)
    {
        var message = Register(type, topic, data, messageId: null, connection.Id);
        await SendAsync(message, connection);
        return message;
    }

    /// <summary>Pushes an already-sent frame again now, answered or not: DingTalk's duplicates.</summary>
    public async Task RedeliverAsync(string messageId)
    {
        var message = FindMessage(messageId) ?? throw new InvalidOperationException($"No frame {messageId} was pushed.");
        await DeliverAsync(message, evenIfSettled: true);
    }

    /// <summary>Drops every open connection without a close handshake.</summary>
    public void DropAll()
    {
        foreach (var connection in OpenConnections)
        {
            connection.Drop();
        }
    }

    /// <summary>Stops redelivering and closes every open connection (the host does this when it stops).</summary>
    public void Dispose()
    {
        SandboxStreamConnection[] open;
        lock (_gate)
        {
            _disposed = true;
            foreach (var message in _messageOrder)
            {
                message.RedeliveryTimer?.Dispose();
                message.RedeliveryTimer = null;
            }

            open = [.. _connections.Where(c => c.IsOpen)];
        }

        foreach (var connection in open)
        {
            _ = connection.ShutdownAsync();
        }
    }

    /// <summary>A single-use ticket for one connection; called by the open-connection API.</summary>
    internal string IssueTicket(IReadOnlyList<StreamSubscription> subscriptions, string? ua)
    {
        var now = Time.GetUtcNow();
        var value = Guid.NewGuid().ToString("D");
        lock (_gate)
        {
            foreach (var stale in _tickets.Values.Where(t => t.ExpiresAt < now - TimeSpan.FromMinutes(10)).ToList())
            {
                _tickets.Remove(stale.Value);
            }

            _tickets[value] = new IssuedTicket(value, now + TicketLifetime, subscriptions, ua);
            _ticketsIssued++;
        }

        return value;
    }

    /// <summary><c>GET {prefix}/connect?ticket=…</c>: checks the ticket, then serves the socket until it ends.</summary>
    internal async Task AcceptAsync(HttpContext http)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            await RefuseAsync(http, StatusCodes.Status400BadRequest, "InvalidParameter", "this endpoint takes a WebSocket upgrade (GET with Upgrade: websocket)");
            return;
        }

        var ticketText = http.Request.Query["ticket"].ToString();
        var ticket = Redeem(ticketText, out var refused);
        if (ticket is null)
        {
            await RefuseAsync(http, StatusCodes.Status401Unauthorized, "InvalidTicket", refused!);
            return;
        }

        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        SandboxStreamConnection connection;
        lock (_gate)
        {
            connection = new SandboxStreamConnection(this, ++_nextConnectionId, ticket, socket, http, Time.GetUtcNow());
            _connections.Add(connection);
            SignalLocked();
        }

        await connection.RunAsync();
    }

    /// <summary>A SYSTEM frame to one connection (ping, disconnect); never redelivered.</summary>
    internal Task<SandboxStreamMessage> SendSystemAsync(SandboxStreamConnection connection, string topic, string data) =>
        PushToAsync(connection, StreamProtocol.System, topic, data);

    /// <summary>One text frame from a client: an answer, checked against the frame it answers.</summary>
    internal void Received(SandboxStreamConnection connection, string text)
    {
        var now = Time.GetUtcNow();
        if (StreamAnswerCheck.ReadEnvelope(text, out var answer, connection.Id, now) is { } malformed)
        {
            ProtocolError(connection, null, malformed, text);
            return;
        }

        lock (_gate)
        {
            if (!_messages.TryGetValue(answer!.MessageId, out var message))
            {
                AddError(connection, answer.MessageId, $"the answer names messageId {answer.MessageId}, which the sandbox never sent", text, now);
                return;
            }

            if (!message.WasDeliveredTo(connection.Id))
            {
                AddError(connection, answer.MessageId, $"the answer to {answer.MessageId} came on connection {connection.Id}, which never got that frame", text, now);
                return;
            }

            if (StreamAnswerCheck.CheckData(message, answer, out var settles) is { } wrong)
            {
                AddError(connection, answer.MessageId, wrong, text, now);
                return;
            }

            message.Answer(answer, settles);
        }
    }

    internal void ProtocolError(SandboxStreamConnection connection, string? messageId, string problem, string text)
    {
        lock (_gate)
        {
            AddError(connection, messageId, problem, text, Time.GetUtcNow());
        }
    }

    internal void Closed(SandboxStreamConnection connection)
    {
        lock (_gate)
        {
            SignalLocked();
        }
    }

    private static async Task RefuseAsync(HttpContext http, int status, string code, string message)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json;charset=utf-8";
        await http.Response.WriteAsync(new JsonObject { ["code"] = code, ["message"] = message, ["requestid"] = Guid.NewGuid().ToString("D").ToUpperInvariant() }.ToJsonString());
    }

    private static string NewMessageId()
    {
        var bytes = RandomNumberGenerator.GetHexString(28, lowercase: true);
        return $"{bytes[..8]}_{bytes[8..11]}_{bytes[11..22]}_{bytes[22..]}";
    }

    private IssuedTicket? Redeem(string ticket, out string? refused)
    {
        var now = Time.GetUtcNow();
        lock (_gate)
        {
            refused = string.IsNullOrEmpty(ticket) ? "the ticket query parameter is missing"
                : !_tickets.TryGetValue(ticket, out var issued) ? "unknown ticket: open a connection first (POST /v1.0/gateway/connections/open)"
                : issued.Used ? "this ticket was already used: every connection needs a fresh one"
                : issued.ExpiresAt <= now ? $"this ticket expired ({TicketLifetime.TotalSeconds:0} s after it was issued)"
                : null;
            if (refused is not null)
            {
                _rejections.Add(new SandboxTicketRejection(string.IsNullOrEmpty(ticket) ? null : ticket, refused, now));
                return null;
            }

            var redeemed = _tickets[ticket];
            redeemed.Used = true;
            return redeemed;
        }
    }

    private SandboxStreamMessage Register(string type, string topic, string data, string? messageId, int? onlyConnectionId)
    {
        var now = Time.GetUtcNow();
        var id = messageId ?? NewMessageId();
        var frame = new JsonObject
        {
            ["specVersion"] = "1.0",
            ["type"] = type,
            ["headers"] = new JsonObject
            {
                ["appId"] = _state.Options.AppKey,
                ["contentType"] = "application/json",
                ["messageId"] = id,
                ["time"] = now.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture),
                ["topic"] = topic,
            },
            ["data"] = data,
        }.ToJsonString();

        lock (_gate)
        {
            if (_messages.TryGetValue(id, out var existing))
            {
                return existing; // the same frame again: one record, more deliveries
            }

            var message = new SandboxStreamMessage(_gate, id, type, topic, data, frame, onlyConnectionId) { PushedAt = now };
            _messages[id] = message;
            _messageOrder.Add(message);
            Prune();
            return message;
        }
    }

    private async Task DeliverAsync(SandboxStreamMessage message, bool evenIfSettled = false)
    {
        SandboxStreamConnection? target;
        lock (_gate)
        {
            if (_disposed || (message.Settled && !evenIfSettled))
            {
                return;
            }

            var candidates = _connections.Where(c => c.Takes(message.Type, message.Topic)).ToList();
            target = candidates.Count == 0 ? null : candidates[Random.Shared.Next(candidates.Count)];
        }

        if (target is not null)
        {
            await SendAsync(message, target);
        }

        ArmRedelivery(message);
    }

    /// <summary>Counted as delivered before the write, since the answer can arrive before the write returns.</summary>
    private async Task SendAsync(SandboxStreamMessage message, SandboxStreamConnection connection)
    {
        lock (_gate)
        {
            message.Delivered(connection.Id);
        }

        if (!await connection.SendAsync(message.FrameJson))
        {
            lock (_gate)
            {
                message.NotDelivered();
            }
        }
    }

    private void ArmRedelivery(SandboxStreamMessage message)
    {
        lock (_gate)
        {
            var delay = RedeliveryDelay;
            if (_disposed || message.Settled || message.OnlyConnectionId is not null || delay <= TimeSpan.Zero)
            {
                return;
            }

            message.RedeliveryTimer?.Dispose();
            message.RedeliveryTimer = Time.CreateTimer(
                _ => _ = DeliverAsync(message), null, delay, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Forgets the oldest settled (or one-connection) frames beyond <see cref="MaxKeptMessages"/>. Caller holds the lock.</summary>
    private void Prune()
    {
        if (_messageOrder.Count <= MaxKeptMessages)
        {
            return;
        }

        var forget = _messageOrder.Where(m => m.Settled || m.OnlyConnectionId is not null).Take(MaxKeptMessages / 10).ToList();
        foreach (var message in forget)
        {
            _messages.Remove(message.MessageId);
            _messageOrder.Remove(message);
        }
    }

    private void AddError(SandboxStreamConnection connection, string? messageId, string problem, string text, DateTimeOffset now) =>
        _errors.Add(new SandboxStreamProtocolError(connection.Id, messageId, problem, text.Length > 2000 ? text[..2000] : text, now));

    private void SignalLocked()
    {
        _changed.TrySetResult();
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
