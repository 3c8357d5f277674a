using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.Sandbox.Stream;
using Serilog.Events;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>
/// DingTalk's open-connection call failing for a while — refused, or hanging — while the gateway has no Stream connection.
/// The connection loop retries after its own backoff; the HTTP stack under it must not retry as well, or each attempt
/// becomes five calls (or up to a minute of timeouts) and the documented backoff is not what DingTalk sees.
/// </summary>
public sealed class StreamOpenOutageTests
{
    /// <summary>
    /// Before, a refused open call was retried four times by the shared resilience pipeline inside each attempt: the
    /// real-process experiment saw open calls at 0.8, 1.2, 1.9, 3.5 and 6.9 s after a drop, then the first 5003; this test
    /// counted 15 calls for 3 attempts.
    /// </summary>
    [Fact]
    public async Task A_refused_open_call_is_one_call_per_attempt_paced_by_the_reconnect_backoff()
    {
        await using var dingTalk = await FakeDingTalk.StartAsync();
        var calls = 0;
        dingTalk.AnswerInstead = (_, path) => path == StreamProtocol.OpenConnectionPath && Interlocked.Increment(ref calls) > 0
            ? new FakeDingTalk.RawAnswer(503, "application/json;charset=utf-8", """{"code":"ServiceUnavailable","message":"busy","requestid":"r1"}""")
            : null;
        await using var factory = Gateway(dingTalk);
        using var api = factory.CreateAdminClient(); // starts the gateway

        await Eventually.TrueAsync(() => Failed(factory) >= 3, "three failed attempts");
        var attempts = Failed(factory);

        Assert.InRange(Volatile.Read(ref calls), attempts, attempts + 1); // the next attempt's call may be under way
    }

    /// <summary>
    /// Before, a hung open call was given five attempt timeouts (each an Error line from Polly, "Resilience event occurred.
    /// EventName: 'OnTimeout'", no event id) before the gateway said anything: three Error lines and 32 s of silence from
    /// the gateway itself for a Stream server that did not answer 30 s.
    /// </summary>
    [Fact]
    public async Task A_hung_open_call_is_given_up_after_one_attempt_timeout_and_said_once_in_5003_without_an_error()
    {
        await using var dingTalk = await FakeDingTalk.StartAsync();
        var calls = 0;
        dingTalk.AnswerDelay = (_, path) => path == StreamProtocol.OpenConnectionPath && Interlocked.Increment(ref calls) > 0 ? TimeSpan.FromMinutes(5) : TimeSpan.Zero;
        await using var factory = Gateway(dingTalk, new Dictionary<string, string?> { ["DingTalk:Outbound:AttemptTimeout"] = "00:00:01" });
        using var api = factory.CreateAdminClient();

        await Eventually.TrueAsync(() => Failed(factory) >= 1, "the first attempt given up");

        var failed = factory.LogEvents.First(e => CardCallbackEndpointTests.EventId(e) == 5003).RenderMessage();
        Assert.Contains("timed out", failed, StringComparison.Ordinal);
        Assert.InRange(Volatile.Read(ref calls), 1, 2);
        Assert.DoesNotContain(factory.LogEvents, e => e.Level >= LogEventLevel.Error);
    }

    private static int Failed(GatewayFactory factory) => factory.LogEvents.Count(e => CardCallbackEndpointTests.EventId(e) == 5003);

    private static GatewayFactory Gateway(FakeDingTalk dingTalk, Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["DingTalk:Stream:Enabled"] = "true",
            ["DingTalk:Stream:BackoffMin"] = "00:00:00.020",
            ["DingTalk:Stream:BackoffMax"] = "00:00:00.050",
            ["DingTalk:Callback:PublicBaseUrl"] = "",
        };
        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return new GatewayFactory(dingTalk, settings);
    }
}
