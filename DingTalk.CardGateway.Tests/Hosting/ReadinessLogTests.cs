using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Testing;

namespace DingTalk.CardGateway.Tests.Hosting;

public class ReadinessLogTests
{
    /// <summary>
    /// The checks' descriptions are sentences of their own, ending in a full stop: warning 1107 joins them without
    /// doubling it ("…path to it.. Said once", "retrying.; dingtalk-token" in a Live gateway's first lines).
    /// </summary>
    [Fact]
    public void Not_ready_joins_the_reasons_of_the_failing_checks_without_doubled_full_stops()
    {
        var logger = new FakeLogger<ReadinessLog>();
        var report = new HealthReport(
            new Dictionary<string, HealthReportEntry>
            {
                ["dingtalk-callback-registration"] = new(HealthStatus.Unhealthy, "Callback registration failed (DingTalk unreachable); retrying.", TimeSpan.Zero, null, null),
                ["dingtalk-token"] = new(HealthStatus.Unhealthy, "DingTalk could not be reached for a token; check DingTalk:ApiBaseUrl and the network path to it.", TimeSpan.Zero, null, null),
                ["storage"] = new(HealthStatus.Healthy, "Sqlite reachable.", TimeSpan.Zero, null, null),
            },
            TimeSpan.Zero);

        new ReadinessLog(logger).Observe(report);

        var notReady = Assert.Single(logger.Collector.GetSnapshot());
        Assert.Equal(1107, notReady.Id.Id);
        Assert.Equal(
            "Not ready (dingtalk-callback-registration, dingtalk-token): dingtalk-callback-registration: Callback registration failed (DingTalk unreachable); retrying; "
            + "dingtalk-token: DingTalk could not be reached for a token; check DingTalk:ApiBaseUrl and the network path to it. Said once until readiness changes; GET /health/ready gives each check's current reason",
            notReady.Message);
    }
}
