using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using OpenTelemetry.Metrics;
using static System.Net.Http.HttpMethod;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// The gateway's meter says what the logs say, countable: callbacks by outcome, refusals by reason, outbox sends by
/// result. Each test has its own fake DingTalk and gateway, so failures injected for one send meet no other test's.
/// </summary>
public sealed class GatewayMetricsTests : IAsyncLifetime
{
    private FakeDingTalk _dingTalk = null!;
    private GatewayFactory _gateway = null!;
    private HttpClient _api = null!;
    private HttpClient _dingTalkClient = null!;

    public async Task InitializeAsync()
    {
        _dingTalk = await FakeDingTalk.StartAsync();
        // One attempt per outbox send, so each failure injected below is one send's result (not retried inside it).
        _gateway = new GatewayFactory(_dingTalk, new Dictionary<string, string?>
        {
            ["DingTalk:Outbound:MaxRetryAttempts"] = "0",
            ["Gateway:Outbox:CountInterval"] = "00:00:00.050",
        });
        _api = _gateway.CreateAdminClient();
        _dingTalkClient = _gateway.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _api.Dispose();
        _dingTalkClient.Dispose();
        await _gateway.DisposeAsync();
        await _dingTalk.DisposeAsync();
    }

    [Fact]
    public async Task Each_callback_is_counted_by_transport_and_outcome_and_timed_with_its_handler()
    {
        using var callbacks = Collect<long>("cardgateway.callbacks");
        using var durations = Collect<double>("cardgateway.callback.duration");
        var outTrackId = await SendCardAsync("tpl.poll");
        var body = DingTalkCallback.Body(outTrackId, "u1", new { action = "vote", option = "A" });
        var signedAt = DateTimeOffset.UtcNow;

        await ClickAsync(body, signedAt);
        await ClickAsync(body, signedAt); // the same delivery again: answered from the record
        await ClickAsync(DingTalkCallback.Body(outTrackId, "u2", new { action = "nobody-handles-this" }), DateTimeOffset.UtcNow);

        var counted = callbacks.GetMeasurementSnapshot();
        Assert.Equal(3, counted.Count);
        Assert.Single(counted, m => m.MatchesTags(Tag("transport", "http"), Tag("outcome", "handled"), Tag("redelivery", false)));
        Assert.Single(counted, m => m.MatchesTags(Tag("transport", "http"), Tag("outcome", "handled"), Tag("redelivery", true)));
        Assert.Single(counted, m => m.MatchesTags(Tag("transport", "http"), Tag("outcome", "unhandled"), Tag("redelivery", false)));
        var timed = durations.GetMeasurementSnapshot();
        Assert.Equal(3, timed.Count);
        Assert.All(timed, m => Assert.InRange(m.Value, 0, 30));
        Assert.Equal(["PollHandler", "none", "none"], timed.Select(m => (string)m.Tags["handler"]!));
    }

    [Fact]
    public async Task Refused_callbacks_are_counted_with_the_reason_the_log_gives()
    {
        using var refused = Collect<long>("cardgateway.callbacks.refused");
        var outTrackId = await SendCardAsync("tpl.poll");
        var body = DingTalkCallback.Body(outTrackId, "u1", new { action = "vote", option = "A" });

        await RefusedAsync(DingTalkCallback.Signed(body, "not-the-secret"), HttpStatusCode.Unauthorized);
        await RefusedAsync(DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, DateTimeOffset.UtcNow.AddHours(-1)), HttpStatusCode.Unauthorized);
        await RefusedAsync(DingTalkCallback.Unsigned(body), HttpStatusCode.Unauthorized);
        await RefusedAsync(DingTalkCallback.Signed("{not json", GatewayFactory.ApiSecret), HttpStatusCode.BadRequest);
        await RefusedAsync(DingTalkCallback.Signed(new string(' ', 2 * 1024 * 1024), GatewayFactory.ApiSecret), HttpStatusCode.RequestEntityTooLarge);
        await RefusedAsync(
            DingTalkCallback.Post("/dingtalk/callbacks/robot-card/made-up-token", Encoding.UTF8.GetBytes(DingTalkCallback.RobotBody("biz-1", "u1", new { action = "approve" }))),
            HttpStatusCode.Unauthorized);

        Assert.Equal(
            ["card:Mismatch", "card:Stale", "card:MissingSignature", "card:MalformedBody", "card:TooLarge", "robot_card:TokenMismatch"],
            refused.GetMeasurementSnapshot().Select(m => $"{m.Tags["endpoint"]}:{m.Tags["reason"]}"));
    }

    [Fact]
    public async Task Outbox_sends_are_counted_by_result_and_a_delivered_update_says_how_long_it_waited()
    {
        using var sends = Collect<long>("cardgateway.outbox.sends");
        using var delays = Collect<double>("cardgateway.outbox.delay");
        var retried = await SendCardAsync("tpl.ops");
        var refusedForGood = await SendCardAsync("tpl.ops");

        _dingTalk.State.FailNext(Put, "/v1.0/card/instances", 503, "ServiceUnavailable", times: 2);
        await UpdateAsync(retried);
        await sends.WaitForMeasurementsAsync(3, TimeSpan.FromSeconds(15));
        _dingTalk.State.FailNext(Put, "/v1.0/card/instances", 400, "param.cardNotExist", "card does not exist");
        await UpdateAsync(refusedForGood, expected: HttpStatusCode.NotFound);
        await sends.WaitForMeasurementsAsync(4, TimeSpan.FromSeconds(15));

        Assert.Equal(
            ["advanced:retrying", "advanced:retrying", "advanced:delivered", "advanced:dead_lettered"],
            sends.GetMeasurementSnapshot().Select(m => $"{m.Tags["card.kind"]}:{m.Tags["result"]}"));
        var waited = Assert.Single(delays.GetMeasurementSnapshot());
        Assert.InRange(waited.Value, 0.05, 30); // two retries of at least 40 ms (50 ms less the jitter) before it went through
    }

    [Fact]
    public async Task The_outbox_gauge_counts_pending_and_dead_lettered_entries_as_the_database_has_them()
    {
        using var entries = Collect<long>("cardgateway.outbox.entries");
        var down = await SendCardAsync("tpl.ops");
        var refused = await SendCardAsync("tpl.ops");

        _dingTalk.State.FailNext(Put, "/v1.0/card/instances", 400, "param.cardNotExist", "card does not exist");
        await UpdateAsync(refused, expected: HttpStatusCode.NotFound);
        _dingTalk.State.FailNext(Put, "/v1.0/card/instances", 503, "ServiceUnavailable", times: 1_000_000);
        await UpdateAsync(down, expected: HttpStatusCode.Accepted); // DingTalk down: it stays pending

        await Eventually.TrueAsync(() => Observed(entries) == (1, 1), "one pending and one dead entry on the gauge");
        _dingTalk.State.ClearFaults();
        await Eventually.TrueAsync(() => Observed(entries) == (0, 1), "the pending entry delivered once DingTalk is back; the dead one stays");
    }

    [Fact]
    public async Task Without_an_OTLP_endpoint_no_OpenTelemetry_provider_is_started()
    {
        await SendCardAsync("tpl.poll");

        Assert.Null(_gateway.Services.GetService<MeterProvider>());
    }

    [Fact]
    public async Task With_an_OTLP_endpoint_the_metrics_are_exported_to_it()
    {
        await using var collector = await OtlpCollector.StartAsync();
        await using var exporting = new GatewayFactory(_dingTalk, new Dictionary<string, string?>
        {
            [TelemetryExtensions.OtlpEndpointKey] = collector.Address,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
            ["OTEL_SERVICE_NAME"] = "cards-under-test",
        });
        using var api = exporting.CreateClient();
        api.DefaultRequestHeaders.Add("X-Api-Key", GatewayFactory.AdminKey);
        using var dingTalk = exporting.CreateClient();
        var outTrackId = await SendCardAsync("tpl.poll", api);

        using var click = DingTalkCallback.Signed(DingTalkCallback.Body(outTrackId, "u1", new { action = "vote", option = "A" }), GatewayFactory.ApiSecret);
        await HttpAssert.JsonAsync(await dingTalk.SendAsync(click), HttpStatusCode.OK);

        await Eventually.TrueAsync(() => collector.Received("cardgateway.callbacks") && collector.Received("cardgateway.callback.duration"), "the click's metrics at the collector");
        Assert.True(collector.Received("http.server.request.duration"), "ASP.NET Core's own metrics go along");
        Assert.True(collector.Received("cards-under-test"), "the service is named as OTEL_SERVICE_NAME says");
        Assert.All(collector.Requests, r => Assert.Equal(("/v1/metrics", "application/x-protobuf"), r));
    }

    private MetricCollector<T> Collect<T>(string instrument)
        where T : struct => new(_gateway.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), GatewayMetrics.MeterName, instrument);

    private static KeyValuePair<string, object?> Tag(string name, object value) => new(name, value);

    /// <summary>The gauge's latest (pending, dead), or (-1, -1) before it has both.</summary>
    private static (long Pending, long Dead) Observed(MetricCollector<long> gauge)
    {
        gauge.RecordObservableInstruments();
        var latest = gauge.GetMeasurementSnapshot().TakeLast(2).ToList();
        long Of(string status) => latest.LastOrDefault(m => (string?)m.Tags["status"] == status)?.Value ?? -1;
        return (Of("pending"), Of("dead"));
    }

    private async Task<string> SendCardAsync(string template, HttpClient? api = null)
    {
        var outTrackId = $"{template}-{Guid.NewGuid():N}";
        var response = await (api ?? _api).PostAsJsonAsync("/api/cards", new { cardTemplateId = template, outTrackId, openConversationId = "cidTest==", cardData = new { } });
        await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        return outTrackId;
    }

    private async Task UpdateAsync(string outTrackId, HttpStatusCode? expected = null)
    {
        var response = await _api.PutAsJsonAsync($"/api/cards/{outTrackId}", new { cardData = new { status = "open" } });
        if (expected is { } status)
        {
            Assert.Equal(status, response.StatusCode);
        }
        else
        {
            Assert.True(response.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.Accepted, $"PUT answered {response.StatusCode}");
        }
    }

    private async Task ClickAsync(string body, DateTimeOffset signedAt)
    {
        using var request = DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt);
        await HttpAssert.JsonAsync(await _dingTalkClient.SendAsync(request), HttpStatusCode.OK);
    }

    private async Task RefusedAsync(HttpRequestMessage request, HttpStatusCode expected)
    {
        using (request)
        {
            await HttpAssert.ProblemAsync(await _dingTalkClient.SendAsync(request), expected);
        }
    }

    /// <summary>An OTLP/HTTP receiver on a real loopback socket: keeps each request's path, content type and body.</summary>
    private sealed class OtlpCollector : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly ConcurrentQueue<(string Path, string ContentType, byte[] Body)> _requests = new();

        private OtlpCollector(WebApplication app) => _app = app;

        public string Address => _app.Urls.First();

        public IEnumerable<(string Path, string? ContentType)> Requests => _requests.Select(r => (r.Path, (string?)r.ContentType));

        public static async Task<OtlpCollector> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var collector = new OtlpCollector(app);
            app.MapPost("/{**path}", async (HttpContext http) =>
            {
                using var body = new MemoryStream();
                await http.Request.Body.CopyToAsync(body);
                collector._requests.Enqueue((http.Request.Path.Value!, http.Request.ContentType ?? "", body.ToArray()));
                http.Response.ContentType = "application/x-protobuf";
                return Results.Bytes([], "application/x-protobuf"); // an empty ExportMetricsServiceResponse: all accepted
            });
            await app.StartAsync();
            return collector;
        }

        /// <summary>Whether any export carried <paramref name="text"/> (protobuf keeps strings as UTF-8 bytes).</summary>
        public bool Received(string text)
        {
            var needle = Encoding.UTF8.GetBytes(text);
            return _requests.Any(r => r.Body.AsSpan().IndexOf(needle) >= 0);
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
