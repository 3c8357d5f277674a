using System.Collections.Concurrent;
using DingTalk.CardGateway.Tests.Callbacks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;
using Serilog.Events;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>What Sandbox mode says as it starts, for a newcomer who has not read the README yet.</summary>
public sealed class SandboxStartupHintTests
{
    [Fact]
    public async Task Sandbox_mode_says_at_startup_where_its_card_page_is()
    {
        var logs = new CapturingSink();
        await using var gateway = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseSetting("DingTalk:AppKey", "");
            b.UseSetting("Gateway:Storage:ConnectionString", "Data Source=:memory:");
            b.ConfigureServices(s => s.AddSingleton<ILogEventSink>(logs));
        });
        gateway.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        gateway.StartServer();
        using var client = gateway.CreateClient();

        // Said as the host's ApplicationStarted fires, which may be a moment after the factory's start returns.
        await Eventually.TrueAsync(() => logs.Events.Any(e => CardCallbackEndpointTests.EventId(e) == 7005), "the card page's address logged");
        var hint = Assert.Single(logs.Events, e => CardCallbackEndpointTests.EventId(e) == 7005).RenderMessage();

        Assert.Contains(new Uri(client.BaseAddress!, "sandbox/").ToString(), hint, StringComparison.Ordinal);
        Assert.Contains(new Uri(client.BaseAddress!, "swagger").ToString(), hint, StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Events, e => CardCallbackEndpointTests.EventId(e) == 7004);
    }

    /// <summary>
    /// A newcomer's first handler test is the usual <c>WebApplicationFactory</c> without <c>UseKestrel</c>: the in-memory
    /// TestServer listens on no socket, so Sandbox mode cannot reach its emulated DingTalk at its own address, and every
    /// card sent answered 503 "DingTalk unreachable" (connection refused at 127.0.0.1:5000) with nothing saying why.
    /// </summary>
    [Fact]
    public async Task Sandbox_mode_on_a_host_that_listens_on_no_socket_says_at_startup_how_to_give_it_one()
    {
        var logs = new CapturingSink();
        await using var gateway = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseSetting("DingTalk:AppKey", "");
            b.UseSetting("Gateway:Storage:ConnectionString", "Data Source=:memory:");
            b.ConfigureServices(s => s.AddSingleton<ILogEventSink>(logs));
        });

        using var client = gateway.CreateClient(); // starts the in-memory TestServer, as most WebApplicationFactory tests do

        await Eventually.TrueAsync(() => logs.Events.Any(e => CardCallbackEndpointTests.EventId(e) == 7004), "the missing socket logged");
        var warning = Assert.Single(logs.Events, e => CardCallbackEndpointTests.EventId(e) == 7004);
        Assert.Equal(LogEventLevel.Warning, warning.Level);
        Assert.Contains("UseKestrel", warning.RenderMessage(), StringComparison.Ordinal);
    }

    private sealed class CapturingSink : ILogEventSink
    {
        private readonly ConcurrentQueue<LogEvent> _events = new();

        public IReadOnlyCollection<LogEvent> Events => _events.ToArray();

        public void Emit(LogEvent logEvent) => _events.Enqueue(logEvent);
    }
}
