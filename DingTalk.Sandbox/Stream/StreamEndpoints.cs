using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace DingTalk.Sandbox.Stream;

internal static class StreamEndpoints
{
    /// <summary>
    /// <c>GET {prefix}/connect?ticket=…</c>, the WebSocket endpoint. It brings its own WebSocket middleware, so the
    /// host needs no <c>app.UseWebSockets()</c>; server-side keep-alives are off, so a silent sandbox is truly silent.
    /// </summary>
    public static void MapStreamSocket(this IEndpointRouteBuilder group)
    {
        var options = Options.Create(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });

        // Sockets outlive requests: close them when the host stops, or it waits for them until its shutdown timeout.
        var stream = group.ServiceProvider.GetRequiredService<SandboxState>().Stream;
        group.ServiceProvider.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(stream.Dispose);
        group.MapGet(StreamProtocol.ConnectPath, context =>
        {
            var sockets = new WebSocketMiddleware(stream.AcceptAsync, options, context.RequestServices.GetRequiredService<ILoggerFactory>());
            return sockets.Invoke(context);
        });
    }
}
