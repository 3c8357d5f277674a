using System.Diagnostics;
using System.Diagnostics.Metrics;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// The gateway's own metrics, on the meter <see cref="MeterName"/>: callbacks by transport and outcome and how long
/// they took to answer, callbacks refused and why, what the outbox did with each send, and the Stream connection's
/// events. Tags are bounded sets
/// (never a card or user id). Read them with <c>dotnet-counters monitor -p &lt;pid&gt; --counters DingTalk.CardGateway</c>,
/// or export them over OTLP (<see cref="TelemetryExtensions"/>).
/// </summary>
public sealed class GatewayMetrics
{
    public const string MeterName = "DingTalk.CardGateway";

    /// <summary>Up to DingTalk's 2-second limit in fine steps, the 1.5 s handler budget among them.</summary>
    private static readonly IReadOnlyList<double> AnswerBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 5];

    private static readonly IReadOnlyList<double> DelayBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

    private readonly Counter<long> _callbacks;
    private readonly Histogram<double> _answerDuration;
    private readonly Counter<long> _late;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _sends;
    private readonly Histogram<double> _updateDelay;
    private readonly Counter<long> _streamEvents;
    private readonly Counter<long> _runsAgain;
    private readonly Counter<long> _effectRuns;
    private long _pending = -1;
    private long _dead = -1;
    private long _effectsPending = -1;
    private long _effectsDead = -1;

    /// <param name="meters">Where the meter comes from.</param>
    /// <param name="drain">The callbacks being handled, for the in-flight gauge (absent where no callback is handled).</param>
    public GatewayMetrics(IMeterFactory meters, HandlerDrain? drain = null)
    {
        var meter = meters.Create(MeterName);
        _callbacks = meter.CreateCounter<long>(
            "cardgateway.callbacks", "{callback}", "Card callbacks answered, by transport, outcome and whether it was a redelivery.");
        _answerDuration = Seconds(
            meter, "cardgateway.callback.duration", AnswerBuckets, "From a verified callback entering the pipeline to its answer being ready: DingTalk gives up after 2 s.");
        _late = meter.CreateCounter<long>(
            "cardgateway.callbacks.late",
            "{callback}",
            "Callbacks answered at or past Gateway:Callbacks:LateAnswer after they arrived (DingTalk gives up at 2 s), by transport and the part that took longest: reading, storage, handler or commit.");
        _runsAgain = meter.CreateCounter<long>(
            "cardgateway.handler.runs_again",
            "{run}",
            "Handler runs started again because the click met another click's change (Gateway:Callbacks:ConflictRetries), by reason: state_changed (SQLite), deadlock or serialization (PostgreSQL).");
        _refused = meter.CreateCounter<long>(
            "cardgateway.callbacks.refused", "{callback}", "Callbacks refused before any handler ran (401 or 400), by endpoint and reason.");
        _sends = meter.CreateCounter<long>(
            "cardgateway.outbox.sends", "{send}", "Outbox sends to DingTalk (each folds a card's pending updates), by card kind and result.");
        _updateDelay = Seconds(meter, "cardgateway.outbox.delay", DelayBuckets, "How long a card's oldest update waited in the outbox before DingTalk accepted it.");
        _streamEvents = meter.CreateCounter<long>(
            "cardgateway.stream.connection.events",
            "{event}",
            "What happened to the Stream connection: connected, open_failed, lost, replaced (DingTalk asked for a new one).");
        _effectRuns = meter.CreateCounter<long>(
            "cardgateway.effect.runs",
            "{run}",
            "Runs of effects after the commit, by effect name and result: done, retrying (it failed and runs again later) or dead (given up).");
        if (drain is not null)
        {
            meter.CreateObservableGauge(
                "cardgateway.callbacks.in_flight",
                () => (long)drain.Running,
                "{callback}",
                "Callbacks entered and not yet committed, those answered {} at their budget included: one that keeps climbing means storage or handlers are falling behind.");
        }

        meter.CreateObservableGauge(
            "cardgateway.outbox.entries",
            ObserveOutbox,
            "{entry}",
            "Updates for everyone not delivered: pending (waiting or retrying) and dead (dead-lettered), as the database counts them (every replica reports the same).");
        meter.CreateObservableGauge(
            "cardgateway.effects",
            ObserveEffects,
            "{effect}",
            "Effects after the commit not done: pending (due, running or waiting for a retry) and dead (given up, not dismissed), as the database counts them (every replica reports the same).");
    }

    /// <summary>A callback answered: <paramref name="started"/> is <see cref="Stopwatch.GetTimestamp"/> as it entered the pipeline.</summary>
    public void Answered(CallbackTransport transport, CallbackReply reply, long started) =>
        Record(transport, OutcomeName(reply.Outcome), reply.Redelivery, reply.Handler, started);

    /// <summary>A callback the pipeline could not answer (storage unreachable): the transport answers with an error.</summary>
    public void Failed(CallbackTransport transport, long started) => Record(transport, "error", redelivery: false, handler: null, started);

    private void Record(CallbackTransport transport, string outcome, bool redelivery, string? handler, long started)
    {
        if (!_callbacks.Enabled && !_answerDuration.Enabled)
        {
            return;
        }

        var transportTag = new KeyValuePair<string, object?>("transport", TransportName(transport));
        var outcomeTag = new KeyValuePair<string, object?>("outcome", outcome);
        _callbacks.Add(1, transportTag, outcomeTag, new KeyValuePair<string, object?>("redelivery", redelivery));
        _answerDuration.Record(
            Stopwatch.GetElapsedTime(started).TotalSeconds,
            transportTag,
            outcomeTag,
            new KeyValuePair<string, object?>("handler", handler ?? "none"));
    }

    /// <summary>A callback answered late; <paramref name="slowest"/> names the part that took longest (<see cref="LateAnswer.Slowest"/>).</summary>
    public void AnsweredLate(CallbackTransport transport, string slowest) =>
        _late.Add(1, new KeyValuePair<string, object?>("transport", TransportName(transport)), new KeyValuePair<string, object?>("phase", slowest));

    /// <summary>A handler runs again: its click met another click's change; <paramref name="reason"/> says how.</summary>
    public void RanAgain(string reason) => _runsAgain.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>A callback refused before the pipeline; <paramref name="reason"/> is the same word the log gives.</summary>
    public void Refused(string endpoint, string reason) =>
        _refused.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("reason", reason));

    /// <summary>An outbox send: <c>delivered</c>, <c>retrying</c> or <c>dead_lettered</c>.</summary>
    public void Sent(CardKind kind, string result, TimeSpan? oldestWaited = null)
    {
        var kindTag = new KeyValuePair<string, object?>("card.kind", kind == CardKind.Robot ? "robot" : "advanced");
        _sends.Add(1, kindTag, new KeyValuePair<string, object?>("result", result));
        if (oldestWaited is { } waited)
        {
            _updateDelay.Record(Math.Max(0, waited.TotalSeconds), kindTag);
        }
    }

    /// <summary>The outbox's undelivered entries as last counted (<see cref="Storage.Sql.OutboxDispatcher"/> counts them).</summary>
    public void OutboxCounted(long pending, long dead)
    {
        Volatile.Write(ref _pending, pending);
        Volatile.Write(ref _dead, dead);
    }

    /// <summary>An effect's run ended: <c>done</c>, <c>retrying</c> or <c>dead</c>.</summary>
    public void EffectRan(string effect, string result) =>
        _effectRuns.Add(1, new KeyValuePair<string, object?>("effect", effect), new KeyValuePair<string, object?>("result", result));

    /// <summary>The effects not done as last counted (<see cref="Storage.Sql.EffectDispatcher"/> counts them).</summary>
    public void EffectsCounted(long pending, long dead)
    {
        Volatile.Write(ref _effectsPending, pending);
        Volatile.Write(ref _effectsDead, dead);
    }

    private IEnumerable<Measurement<long>> ObserveOutbox() => Observe(ref _pending, ref _dead);

    private IEnumerable<Measurement<long>> ObserveEffects() => Observe(ref _effectsPending, ref _effectsDead);

    /// <summary>The last counts, none before the first count.</summary>
    private static List<Measurement<long>> Observe(ref long pendingCount, ref long deadCount)
    {
        var measurements = new List<Measurement<long>>(2);
        if (Volatile.Read(ref pendingCount) is var pending and >= 0)
        {
            measurements.Add(new Measurement<long>(pending, new KeyValuePair<string, object?>("status", "pending")));
        }

        if (Volatile.Read(ref deadCount) is var dead and >= 0)
        {
            measurements.Add(new Measurement<long>(dead, new KeyValuePair<string, object?>("status", "dead")));
        }

        return measurements;
    }

    /// <summary>A Stream connection event: <c>connected</c>, <c>open_failed</c>, <c>lost</c> or <c>replaced</c>.</summary>
    public void StreamEvent(string name) => _streamEvents.Add(1, new KeyValuePair<string, object?>("event", name));

    private static Histogram<double> Seconds(Meter meter, string name, IReadOnlyList<double> buckets, string description) =>
        meter.CreateHistogram(name, "s", description, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = buckets });

    private static string TransportName(CallbackTransport transport) => transport switch
    {
        CallbackTransport.Http => "http",
        CallbackTransport.RobotHttp => "robot_http",
        CallbackTransport.Stream => "stream",
        _ => "other",
    };

    private static string OutcomeName(CallbackOutcome outcome) => outcome switch
    {
        CallbackOutcome.Handled => "handled",
        CallbackOutcome.Unhandled => "unhandled",
        CallbackOutcome.HandlerFailed => "handler_failed",
        CallbackOutcome.Overran => "overran",
        _ => "pending",
    };
}
