using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// Says readiness in the log when it changes, not at every probe: which checks fail and why when the gateway becomes
/// unready (or other checks start failing), one line when it is ready again. A probe every few seconds otherwise wrote
/// two error lines each time (the health-check framework's own and the request log's 503), saying nothing new.
/// </summary>
public sealed partial class ReadinessLog(ILogger<ReadinessLog> logger)
{
    private readonly Lock _gate = new();

    /// <summary>The failing checks last reported, by name and status ("" when ready); null before the first probe.</summary>
    private string? _last;

    /// <summary>
    /// The data of a check's result that has no outcome to say yet (a call under way, "has not answered yet"): once it
    /// has one (the refusal, the network's words), readiness is said again with it, though the same checks fail.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, object> Pending = new Dictionary<string, object> { ["pending"] = true };

    public void Observe(HealthReport report)
    {
        // Degraded checks are said too: the gateway is ready (a probe gets 200), but something it does fails.
        var failing = report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy).OrderBy(e => e.Key, StringComparer.Ordinal).ToList();

        // Keyed by which checks fail, not by what they say: a description that changes at every probe (a reconnect's
        // countdown) is not a change of readiness; a check that starts or stops failing is.
        var key = string.Join(", ", failing.Select(e => $"{e.Key} {e.Value.Status}{(e.Value.Data.ContainsKey("pending") ? " pending" : "")}"));
        bool first;
        lock (_gate)
        {
            if (key == _last)
            {
                return;
            }

            first = _last is null;
            _last = key;
        }

        // Each description is a sentence ending in a full stop, and the line goes on after the last one.
        static string Reasons(IEnumerable<KeyValuePair<string, HealthReportEntry>> entries) => string.Join("; ", entries.Select(e => $"{e.Key}: {e.Value.Description?.TrimEnd('.')}"));
        if (failing.Count == 0)
        {
            Log.Ready(logger, first ? "Ready" : "Ready again", string.Join(", ", report.Entries.Keys.Order(StringComparer.Ordinal)));
        }
        else if (failing.All(e => e.Value.Status == HealthStatus.Degraded))
        {
            Log.Degraded(logger, Reasons(failing), string.Join(", ", failing.Select(e => e.Key)));
        }
        else
        {
            Log.NotReady(logger, Reasons(failing), string.Join(", ", failing.Select(e => e.Key)));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1107, LogLevel.Warning, "Not ready ({FailingChecks}): {Reasons:l}. Said once until readiness changes; GET /health/ready gives each check's current reason")]
        public static partial void NotReady(ILogger logger, string reasons, string failingChecks);

        [LoggerMessage(1109, LogLevel.Warning, "Ready, but degraded ({DegradedChecks}): {Reasons:l}. Said once until readiness changes; GET /health/ready gives each check's current reason")]
        public static partial void Degraded(ILogger logger, string reasons, string degradedChecks);

        [LoggerMessage(1108, LogLevel.Information, "{Readiness:l}: every readiness check passes ({Checks})")]
        public static partial void Ready(ILogger logger, string readiness, string checks);
    }
}
