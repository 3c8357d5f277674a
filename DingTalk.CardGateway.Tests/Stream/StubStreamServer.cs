using System.Net.WebSockets;
using System.Text;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>
/// A Stream endpoint whose far side misbehaves once the WebSocket is up, the ways a DingTalk node can: it hangs
/// (<see cref="HungAsync"/>), closes at once (<see cref="ClosingAtOnceAsync"/>), or pushes frames without reading the
/// answers (<see cref="DeafAsync"/>). Point the sandbox's <c>EndpointOverride</c> at <see cref="Endpoint"/>.
/// </summary>
public sealed class StubStreamServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _accepted;

    private StubStreamServer(WebApplication app, Uri endpoint)
    {
        _app = app;
        Endpoint = endpoint;
    }

    /// <summary><c>ws://127.0.0.1:port/connect</c>.</summary>
    public Uri Endpoint { get; }

    /// <summary>WebSockets accepted.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Sends nothing and reads nothing, so no pong answers the client's pings: a node that froze without closing the TCP connection.</summary>
    public static Task<StubStreamServer> HungAsync() => StartAsync(static (_, aborted) => Task.Delay(Timeout.Infinite, aborted));

    /// <summary>Accepts the WebSocket and closes it at once, every time: a flapping node.</summary>
    public static Task<StubStreamServer> ClosingAtOnceAsync() =>
        StartAsync(static (socket, aborted) => socket.CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, "going away", aborted));

    /// <summary>
    /// Pushes SYSTEM pings carrying <paramref name="pingBytes"/> of data, one after another, and never reads: the client's
    /// echoes pile up until its writes cannot complete. A node that stopped reading what the client sends.
    /// </summary>
    public static Task<StubStreamServer> DeafAsync(int pingBytes) => StartAsync(async (socket, aborted) =>
    {
        var data = new string('x', pingBytes);
        for (var i = 0; ; i++)
        {
            var frame = $$"""{"specVersion":"1.0","type":"SYSTEM","headers":{"topic":"ping","messageId":"deaf-{{i}}","contentType":"application/json","time":"0"},"data":"{\"opaque\":\"{{data}}\"}"}""";
            await socket.SendAsync(Encoding.UTF8.GetBytes(frame), WebSocketMessageType.Text, endOfMessage: true, aborted);
        }
    });

    private static async Task<StubStreamServer> StartAsync(Func<WebSocket, CancellationToken, Task> script)
    {
        var app = LoopbackApp.CreateBuilder().Build();
        StubStreamServer? server = null;
        app.UseWebSockets();
        app.Map("/connect", async (HttpContext http) =>
        {
            using var socket = await http.WebSockets.AcceptWebSocketAsync();
            Interlocked.Increment(ref server!._accepted);
            try
            {
                await script(socket, http.RequestAborted);
            }
            catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException)
            {
                // the client gave up on it
            }
        });
        await app.StartAsync();
        return server = new StubStreamServer(app, new Uri(LoopbackApp.Address(app).Replace("http://", "ws://", StringComparison.Ordinal).TrimEnd('/') + "/connect"));
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
