using System.Diagnostics.Metrics;
using System.Text.Json;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Stream;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.Sandbox.Stream;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Xunit.Abstractions;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>The gateway keeps its Stream connection through what DingTalk does to it: pings, drops, disconnects, silence.</summary>
[Collection(StreamGatewayCollection.Name)]
public sealed class StreamConnectionTests(StreamGateway gateway, ITestOutputHelper output)
{
    [Fact]
    public async Task Connects_with_the_app_credentials_and_a_card_callback_subscription_on_its_own_ticket()
    {
        var connection = await gateway.OpenConnectionAsync();

        Assert.Equal([new StreamSubscription("CALLBACK", "/v1.0/card/instances/callback")], connection.Subscriptions);
        Assert.StartsWith("dingtalk-card-gateway/", connection.Ua, StringComparison.Ordinal);
        var open = gateway.DingTalk.State.RequestsTo(StreamProtocol.OpenConnectionPath).Last(r => r.Status == 200);
        Assert.Null(open.AccessToken);
        using var body = JsonDocument.Parse(open.Body);
        Assert.Equal(gateway.DingTalk.Options.AppKey, body.RootElement.GetProperty("clientId").GetString());
        var connections = gateway.Stream.Connections;
        Assert.Equal(connections.Count, connections.Select(c => c.Ticket).Distinct().Count());
        Assert.Empty(gateway.Stream.TicketRejections);
        Assert.Empty(gateway.Stream.ProtocolErrors);
        var logs = gateway.Logs.RenderedLogs();
        Assert.DoesNotContain(gateway.DingTalk.Options.AppSecret, logs, StringComparison.Ordinal);
        Assert.DoesNotContain(connection.Ticket, logs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ping_is_answered_with_its_data_echoed()
    {
        var connection = await gateway.OpenConnectionAsync();

        var ping = await connection.PingAsync("""{"opaque" : "123-dsfs"}""");
        var answer = await ping.Answered.WaitAsync(StreamGateway.Patience);

        Assert.Equal(200, answer.Code);
        Assert.Equal("""{"opaque" : "123-dsfs"}""", answer.Data);
        Assert.Equal(ping.MessageId, answer.MessageId);
        Assert.Empty(gateway.Stream.ProtocolErrors);
    }

    [Theory]
    [InlineData("CONNECTED")]
    [InlineData("REGISTERED")]
    [InlineData("KEEPALIVE")]
    [InlineData("SOMETHING_NEW")]
    public async Task A_system_frame_on_another_topic_is_answered_200_with_its_data_echoed_and_the_connection_stays(string topic)
    {
        var connection = await gateway.OpenConnectionAsync();
        var connections = gateway.Stream.Connections.Count;

        // DingTalk's Python SDK answers every SYSTEM frame so; the wire contract: every frame is answered with code 200.
        var frame = await connection.SendSystemAsync(topic, """{"note":"from DingTalk"}""");
        var answer = await frame.Answered.WaitAsync(StreamGateway.Patience);

        Assert.Equal(200, answer.Code);
        Assert.Equal("""{"note":"from DingTalk"}""", answer.Data);
        Assert.Equal(frame.MessageId, answer.MessageId);
        var ping = await connection.PingAsync();
        Assert.Equal(200, (await ping.Answered.WaitAsync(StreamGateway.Patience)).Code);
        Assert.True(connection.IsOpen);
        Assert.Equal(connections, gateway.Stream.Connections.Count);
        Assert.Empty(gateway.Stream.ProtocolErrors);
    }

    [Fact]
    public async Task A_dropped_socket_is_replaced_by_a_new_connection_on_a_fresh_ticket_and_callbacks_keep_flowing()
    {
        using var events = new MetricCollector<long>(
            gateway.App.Services.GetRequiredService<IMeterFactory>(), GatewayMetrics.MeterName, "cardgateway.stream.connection.events");
        var before = await gateway.OpenConnectionAsync();
        var ticketsBefore = gateway.Stream.TicketsIssued;

        before.Drop();
        var after = await gateway.OpenConnectionAsync(before);

        Assert.NotEqual(before.Ticket, after.Ticket);
        Assert.True(gateway.Stream.TicketsIssued > ticketsBefore);
        output.WriteLine($"reconnected {(after.ConnectedAt - before.ClosedAt!.Value).TotalMilliseconds:0} ms after the drop");
        await AssertCallbacksFlowAsync();
        await Eventually.TrueAsync(() => gateway.Logs.LogEvents.Any(e => e.MessageTemplate.Text.Contains("without one", StringComparison.Ordinal)), "the reconnection logged");
        // Countable too: the loss, then the new connection (counted once the gateway's side of the handshake is done,
        // which may come a moment after the fake DingTalk saw the socket).
        await Eventually.TrueAsync(
            () => events.GetMeasurementSnapshot().Select(m => (string)m.Tags["event"]!).TakeLast(2).SequenceEqual(["lost", "connected"]),
            "the loss, then the new connection, counted");
    }

    [Fact]
    public async Task A_disconnect_frame_gets_a_new_connection_before_the_old_one_is_closed()
    {
        var before = await gateway.OpenConnectionAsync();

        var disconnect = await before.SendDisconnectAsync(closeAfter: StreamGateway.Patience);
        var after = await gateway.OpenConnectionAsync(before);
        await before.Closed.WaitAsync(StreamGateway.Patience);

        Assert.Equal(200, (await disconnect.Answered.WaitAsync(StreamGateway.Patience)).Code);
        Assert.NotEqual(before.Ticket, after.Ticket);
        Assert.True(after.ConnectedAt <= before.ClosedAt, "the new connection was up before the old one closed");
        Assert.StartsWith("the client closed it", before.CloseReason, StringComparison.Ordinal); // the gateway closed it, not DingTalk's grace timer
        output.WriteLine($"new connection {(after.ConnectedAt - before.ConnectedAt).TotalMilliseconds:0} ms after the old one; old closed {(before.ClosedAt!.Value - after.ConnectedAt).TotalMilliseconds:0} ms after the new one opened");
        await AssertCallbacksFlowAsync();
    }

    [Fact]
    public async Task Disconnects_right_after_connecting_are_met_with_a_growing_backoff_not_a_reconnect_storm()
    {
        var connection = await gateway.OpenConnectionAsync();

        for (var i = 0; i < 3; i++)
        {
            await connection.SendDisconnectAsync(closeAfter: StreamGateway.Patience);
            connection = await gateway.OpenConnectionAsync(connection);
        }

        // Each young connection asked to go counted as one more failure in a row, so each wait was longer (jittered,
        // doubling up to BackoffMax) — rather than three new connections at once.
        var series = gateway.Logs.LogEvents
            .Where(e => Callbacks.CardCallbackEndpointTests.EventId(e) == 5008)
            .Select(e => int.Parse(Callbacks.CardCallbackEndpointTests.Property(e, "Failures"), System.Globalization.CultureInfo.InvariantCulture))
            .TakeLast(3)
            .ToList();
        Assert.Equal(3, series.Count);
        Assert.Equal([series[0], series[0] + 1, series[0] + 2], series);
        await AssertCallbacksFlowAsync();
    }

    [Fact]
    public async Task An_old_connection_that_closes_while_its_replacement_waits_the_backoff_is_reported_lost()
    {
        var old = await gateway.OpenConnectionAsync();
        old.Drop();
        var young = await gateway.OpenConnectionAsync(old); // under MinHealthyLifetime: its replacement waits the backoff
        var lostBefore = gateway.Logs.LogEvents.Count(e => Callbacks.CardCallbackEndpointTests.EventId(e) == 5004);

        var disconnect = await young.SendDisconnectAsync(closeAfter: TimeSpan.FromSeconds(30));
        await disconnect.Answered.WaitAsync(StreamGateway.Patience);
        young.Drop();
        await gateway.OpenConnectionAsync(young);

        // Without this, /health/ready said Connected through the whole wait, with no connection at all. The loss is said by
        // the dropped socket's own receive loop, which a loaded machine may run only after the replacement opened (CI, once).
        await Callbacks.Eventually.TrueAsync(
            () => gateway.Logs.LogEvents.Where(e => Callbacks.CardCallbackEndpointTests.EventId(e) == 5004).Skip(lostBefore).Any(),
            "the young connection reported lost");
        await AssertCallbacksFlowAsync();
    }

    [Fact]
    public async Task A_disconnect_whose_reason_cannot_be_read_is_still_answered_and_the_old_connection_drained()
    {
        var before = await gateway.OpenConnectionAsync();

        // data {"reason":"\ud800"}: an escaped half of a surrogate pair, which JSON readers refuse to turn into a string
        var disconnect = await before.SendDisconnectAsync(reason: "\\ud800", closeAfter: StreamGateway.Patience);
        var after = await gateway.OpenConnectionAsync(before);
        await before.Closed.WaitAsync(StreamGateway.Patience);

        Assert.Equal(200, (await disconnect.Answered.WaitAsync(StreamGateway.Patience)).Code);
        Assert.StartsWith("the client closed it", before.CloseReason, StringComparison.Ordinal);
        Assert.True(after.ConnectedAt <= before.ClosedAt, "the new connection was up before the old one closed");
    }

    [Fact]
    public async Task A_silent_connection_is_detected_and_replaced()
    {
        var before = await gateway.OpenConnectionAsync();

        before.GoSilent();
        var silencedAt = DateTimeOffset.UtcNow;
        var after = await gateway.OpenConnectionAsync(before);
        await before.Closed.WaitAsync(StreamGateway.Patience);

        Assert.NotEqual(before.Ticket, after.Ticket);
        Assert.Contains(gateway.Logs.LogEvents, e => e.RenderMessage().Contains($"no frame from DingTalk for {StreamGateway.IdleTimeout.TotalSeconds:0} s", StringComparison.Ordinal));
        output.WriteLine($"silent connection replaced {(after.ConnectedAt - silencedAt).TotalMilliseconds:0} ms after it went silent (idle timeout {StreamGateway.IdleTimeout.TotalSeconds:0} s)");
        await AssertCallbacksFlowAsync();
    }

    [Fact]
    public async Task Readiness_reports_the_connection_and_the_reason_while_it_cannot_reconnect()
    {
        var connection = await gateway.OpenConnectionAsync();
        await Eventually.TrueAsync(() => gateway.Status.State == StreamConnectionState.Connected, "the gateway sees itself connected");
        var ready = await ReadinessAsync();
        Assert.Equal("Healthy", ready.GetProperty("status").GetString());
        Assert.Contains("Connected", ready.GetProperty("description").GetString(), StringComparison.Ordinal);

        gateway.DingTalk.State.FailNext(HttpMethod.Post, StreamProtocol.OpenConnectionPath, 503, "system.busy", "try later", times: 10_000);
        try
        {
            connection.Drop();
            JsonElement down = default;
            await Eventually.TrueAsync(
                async () => (down = await ReadinessAsync()).GetProperty("description").GetString()!.StartsWith("Cannot open a Stream connection", StringComparison.Ordinal),
                "readiness says why there is no connection");
            Assert.Equal("Unhealthy", down.GetProperty("status").GetString());
            output.WriteLine(down.GetProperty("description").GetString());
        }
        finally
        {
            gateway.DingTalk.State.ClearFaults();
        }

        await gateway.OpenConnectionAsync(connection);
        await Eventually.TrueAsync(async () => (await ReadinessAsync()).GetProperty("status").GetString() == "Healthy", "ready again once reconnected");
    }

    /// <summary>A Stream deployment with a wrong AppSecret: the open call's refusal names the keys to fix.</summary>
    [Fact]
    public async Task A_refused_open_call_names_the_app_keys_to_check_in_readiness()
    {
        var connection = await gateway.OpenConnectionAsync();
        gateway.DingTalk.State.FailNext(HttpMethod.Post, StreamProtocol.OpenConnectionPath, 400, "invalidClientIdOrSecret", "invalid clientId or clientSecret", times: 10_000);
        try
        {
            connection.Drop();
            await Eventually.TrueAsync(
                async () => (await ReadinessAsync()).GetProperty("description").GetString()!.Contains(
                    "400 invalidClientIdOrSecret (invalid clientId or clientSecret); check DingTalk:AppKey and DingTalk:AppSecret", StringComparison.Ordinal),
                "readiness names the keys to check");
        }
        finally
        {
            gateway.DingTalk.State.ClearFaults();
        }

        await gateway.OpenConnectionAsync(connection);
    }

    private async Task<JsonElement> ReadinessAsync()
    {
        using var response = await gateway.Api.GetAsync("/health/ready");
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("checks").GetProperty("dingtalk-stream").Clone();
    }

    private async Task AssertCallbacksFlowAsync()
    {
        var card = await gateway.SendCardAsync("tpl.count");
        var answer = await gateway.ClickAsync(card, "flow-user", new { action = CountingHandler.Action });
        Assert.Equal(200, answer.Code);
        Assert.Single(gateway.Invocations.For(card));
        Assert.Empty(gateway.Stream.ProtocolErrors);
    }
}
