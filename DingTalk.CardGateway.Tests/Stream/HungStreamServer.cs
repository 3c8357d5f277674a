using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>
/// A Stream endpoint whose far side hangs once the WebSocket is up: it sends nothing and reads nothing, so no pong
/// answers the client's pings — a DingTalk node that froze without closing the TCP connection.
/// </summary>
public sealed class HungStreamServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _accepted;

    private HungStreamServer(WebApplication app, Uri endpoint)
    {
        _app = app;
        Endpoint = endpoint;
    }

    /// <summary><c>ws://127.0.0.1:port/connect</c>.</summary>
    public Uri Endpoint { get; }

    /// <summary>WebSockets accepted (and then left hanging).</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    public static async Task<HungStreamServer> StartAsync()
    {
        var app = LoopbackApp.CreateBuilder().Build();
        HungStreamServer? server = null;
        app.UseWebSockets();
        app.Map("/connect", async (HttpContext http) =>
        {
            using var socket = await http.WebSockets.AcceptWebSocketAsync();
            Interlocked.Increment(ref server!._accepted);
            try
            {
                await Task.Delay(Timeout.Infinite, http.RequestAborted); // never reads: the client's pings stay unanswered
            }
            catch (OperationCanceledException)
            {
                // the client gave up on it
            }
        });
        await app.StartAsync();
        return server = new HungStreamServer(app, new Uri(LoopbackApp.Address(app).Replace("http://", "ws://", StringComparison.Ordinal).TrimEnd('/') + "/connect"));
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
