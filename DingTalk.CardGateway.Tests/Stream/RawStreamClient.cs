using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.Sandbox.Stream;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>A hand-driven Stream client for the sandbox tests: every byte it sends is the test's choice.</summary>
public sealed class RawStreamClient : IAsyncDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly ClientWebSocket _socket = new();

    private RawStreamClient(string ticket) => Ticket = ticket;

    public string Ticket { get; }

    public WebSocketState State => _socket.State;

    /// <summary>Opens a connection (a fresh ticket) subscribed to <paramref name="subscriptions"/> and connects to it.</summary>
    public static async Task<RawStreamClient> ConnectAsync(FakeDingTalk dingTalk, params (string Type, string Topic)[] subscriptions)
    {
        var (endpoint, ticket) = await OpenAsync(dingTalk, subscriptions);
        var client = new RawStreamClient(ticket);
        await client._socket.ConnectAsync(new Uri($"{endpoint}?ticket={Uri.EscapeDataString(ticket)}"), new CancellationTokenSource(Patience).Token);
        return client;
    }

    public static async Task<(string Endpoint, string Ticket)> OpenAsync(FakeDingTalk dingTalk, params (string Type, string Topic)[] subscriptions)
    {
        using var http = dingTalk.CreateClient();
        http.DefaultRequestHeaders.Accept.ParseAdd("application/json");
        var response = await http.PostAsJsonAsync(StreamProtocol.OpenConnectionPath.TrimStart('/'), new
        {
            clientId = dingTalk.Options.AppKey,
            clientSecret = dingTalk.Options.AppSecret,
            ua = "raw-test-client",
            subscriptions = (subscriptions.Length == 0 ? [(StreamProtocol.Callback, StreamProtocol.CardCallbackTopic)] : subscriptions)
                .Select(s => new { type = s.Type, topic = s.Topic }),
        });
        var body = await HttpAssert.JsonAsync(response, System.Net.HttpStatusCode.OK);
        return (body.GetProperty("endpoint").GetString()!, body.GetProperty("ticket").GetString()!);
    }

    /// <summary>The next frame, parsed; null when the server closed the socket.</summary>
    public async Task<JsonObject?> ReceiveAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        using var patience = new CancellationTokenSource(Patience);
        while (true)
        {
            var received = await _socket.ReceiveAsync(buffer, patience.Token);
            if (received.MessageType == WebSocketMessageType.Close)
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", patience.Token);
                return null;
            }

            message.Write(buffer, 0, received.Count);
            if (received.EndOfMessage)
            {
                return (JsonObject)JsonNode.Parse(message.ToArray())!;
            }
        }
    }

    /// <summary>Frames until one with this messageId (pings in between are skipped).</summary>
    public async Task<JsonObject> ReceiveAsync(string messageId)
    {
        while (true)
        {
            var frame = await ReceiveAsync() ?? throw new InvalidOperationException("the sandbox closed the socket");
            if (frame["headers"]!["messageId"]!.GetValue<string>() == messageId)
            {
                return frame;
            }
        }
    }

    public Task SendAsync(string text) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);

    /// <summary>Answers like a correct client: code 200, the two headers, OK, and <paramref name="data"/>.</summary>
    public Task AnswerAsync(string messageId, string data, int code = 200) => SendAsync(new JsonObject
    {
        ["code"] = code,
        ["headers"] = new JsonObject { ["contentType"] = "application/json", ["messageId"] = messageId },
        ["message"] = code == 200 ? "OK" : "refused",
        ["data"] = data,
    }.ToJsonString());

    public async ValueTask DisposeAsync()
    {
        _socket.Abort();
        _socket.Dispose();
        await Task.CompletedTask;
    }
}
