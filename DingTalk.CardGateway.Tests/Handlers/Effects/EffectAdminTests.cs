using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static DingTalk.CardGateway.Tests.Handlers.Effects.AfterCommitEffectTests;

namespace DingTalk.CardGateway.Tests.Handlers.Effects;

/// <summary>
/// An operator puts dead effects right through the admin API: one run again once its cause is fixed (same idempotency key,
/// its give-up clock restarted), all of one name run again, one dismissed; the effects' gauge and run counter say what
/// became of them. Each on SQLite and PostgreSQL; each test has its own gateway and database, so the gauge counts its
/// effects alone.
/// </summary>
public sealed class EffectAdminTests
{
    private readonly EffectRuns _runs = new();
    private readonly HandlerGate _gate = new();

    /// <summary>Given up a second after its click (or its re-run), counted every 50 ms.</summary>
    private static Dictionary<string, string?> Settings(Dictionary<string, string?> storage) => new(storage)
    {
        ["Gateway:Outbox:GiveUpAfter"] = "00:00:01",
        ["Gateway:Outbox:CountInterval"] = "00:00:00.050",
    };

    [SkippableTheory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public Task A_dead_effect_run_again_after_its_cause_is_fixed_runs_with_the_same_idempotency_key_and_ends_done(string provider) =>
        WithDatabaseAsync(provider, async storage =>
        {
            await using var gateway = await EffectGateway.StartAsync(Settings(storage), _runs, _gate);
            using var gauge = Collect(gateway, "cardgateway.effects");
            using var runCounter = Collect(gateway, "cardgateway.effect.runs");
            var card = await gateway.SendCardAsync();
            _runs.Down("hook"); // the webhook is down

            await gateway.ClickAsync(card, "u1", new { action = "effect", note = "hook" });
            await Eventually.TrueAsync(async () => (await StatusesAsync(gateway, card)).SequenceEqual(["Dead"]), "the effect given up");
            await Eventually.TrueAsync(() => Observed(gauge) == (0, 1), "the dead effect on the gauge");
            var dead = Assert.Single((await gateway.EffectsShownAsync(card)).EnumerateArray());
            var id = dead.GetProperty("id").GetInt64();
            var attemptsWhenDead = dead.GetProperty("attempts").GetInt32();
            Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 8003 && e.RenderMessage().Contains($"/api/effects/{id}/retry", StringComparison.Ordinal));

            // Run again while the webhook is still down: retried, not given up at its first failure (the clock restarted).
            var retried = await HttpAssert.JsonAsync(await gateway.Api.PostAsync($"/api/effects/{id}/retry", null), HttpStatusCode.Accepted);
            Assert.Equal(("Pending", id, card), (retried.GetProperty("status").GetString(), retried.GetProperty("id").GetInt64(), retried.GetProperty("cardId").GetString()));
            Assert.Equal(dead.GetProperty("idempotencyKey").GetString(), retried.GetProperty("idempotencyKey").GetString());
            Assert.True(retried.TryGetProperty("retriedAt", out _));
            await Eventually.TrueAsync(async () => (await StatusesAsync(gateway, card)).SequenceEqual(["Dead"]) && _runs.Of("hook").Count > attemptsWhenDead, "dead again");
            var runsOfTheRetry = _runs.Of("hook").Count - attemptsWhenDead;
            Assert.True(runsOfTheRetry >= 2, $"run again, it was given up after {runsOfTheRetry} run(s): its give-up clock still counted from its click");

            // The webhook fixed, run again: done, with the same key, its attempts counted on.
            _runs.Up("hook");
            var deadAgain = Assert.Single((await gateway.EffectsShownAsync(card)).EnumerateArray());
            await HttpAssert.JsonAsync(await gateway.Api.PostAsync($"/api/effects/{id}/retry", null), HttpStatusCode.Accepted);
            await Eventually.TrueAsync(async () => (await StatusesAsync(gateway, card)).SequenceEqual(["Done"]), "the effect done once its cause is fixed");

            var runs = _runs.Of("hook");
            var callback = Assert.Single(await gateway.HistoryAsync(card));
            Assert.All(runs, r => Assert.Equal(callback.CallbackId + ":0", r.IdempotencyKey));
            Assert.Equal(Enumerable.Range(1, runs.Count), runs.Select(r => r.Attempt));
            Assert.Equal(deadAgain.GetProperty("attempts").GetInt32() + 1, runs[^1].Attempt);
            Assert.True(runs[^1].Succeeded);
            Assert.Equal(0, (await gateway.EffectsShownAsync(card)).GetArrayLength());
            await Eventually.TrueAsync(() => Observed(gauge) == (0, 0), "the gauge drops once it is done");
            await Eventually.TrueAsync(() => Results(runCounter) == (2, 1, runs.Count - 3), "each run counted by its result: two dead, one done, the rest retrying");
            Assert.Equal(2, gateway.Logs.LogEvents.Count(e => CardCallbackEndpointTests.EventId(e) == 8012 && e.RenderMessage().Contains(callback.CallbackId, StringComparison.Ordinal)));

            // Done: not dead, so not run again.
            var conflict = await HttpAssert.ProblemAsync(await gateway.Api.PostAsync($"/api/effects/{id}/retry", null), HttpStatusCode.Conflict);
            Assert.Contains("done", conflict.GetProperty("detail").GetString(), StringComparison.Ordinal);
        });

    [SkippableTheory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public Task A_dismissed_effect_stops_counting_as_dead_is_never_run_and_retention_purges_it(string provider) =>
        WithDatabaseAsync(provider, async storage =>
        {
            await using var gateway = await EffectGateway.StartAsync(Settings(storage), _runs, _gate);
            using var gauge = Collect(gateway, "cardgateway.effects");
            var card = await gateway.SendCardAsync();

            await gateway.ClickAsync(card, "u1", new { action = "effect", note = "let-go", permanent = true });
            await gateway.ClickAsync(card, "u2", new { action = "effect", note = "stuck", effectGate = "never" }); // held running: pending
            await Eventually.TrueAsync(() => Observed(gauge) == (1, 1), "one pending and one dead effect on the gauge");
            var shown = (await gateway.EffectsShownAsync(card)).EnumerateArray().ToList();
            var deadId = shown.Single(e => e.GetProperty("status").GetString() == "Dead").GetProperty("id").GetInt64();
            var pendingId = shown.Single(e => e.GetProperty("status").GetString() == "Pending").GetProperty("id").GetInt64();

            await HttpAssert.ProblemAsync(await gateway.Api.DeleteAsync($"/api/effects/{pendingId}"), HttpStatusCode.Conflict); // running: let it end
            Assert.Equal(HttpStatusCode.NoContent, (await gateway.Api.DeleteAsync($"/api/effects/{deadId}")).StatusCode);

            await Eventually.TrueAsync(() => Observed(gauge) == (1, 0), "the dismissed effect no longer counted as dead");
            Assert.Equal([pendingId], (await gateway.EffectsShownAsync(card)).EnumerateArray().Select(e => e.GetProperty("id").GetInt64()));
            Assert.Equal(["Dismissed", "Pending"], await StatusesAsync(gateway, card));
            await HttpAssert.ProblemAsync(await gateway.Api.DeleteAsync($"/api/effects/{deadId}"), HttpStatusCode.Conflict);
            await HttpAssert.ProblemAsync(await gateway.Api.PostAsync($"/api/effects/{deadId}/retry", null), HttpStatusCode.Conflict);
            Assert.Single(_runs.Of("let-go"));
            Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 8014 && e.RenderMessage().Contains(deadId.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));

            await gateway.PurgeEightDaysOnAsync();
            Assert.Equal(["Pending"], await StatusesAsync(gateway, card));
            await HttpAssert.ProblemAsync(await gateway.Api.DeleteAsync($"/api/effects/{deadId}"), HttpStatusCode.NotFound);
            _gate.Open("never");
        });

    [SkippableTheory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public Task Every_dead_effect_of_one_name_is_run_again_at_once_and_others_are_left(string provider) =>
        WithDatabaseAsync(provider, async storage =>
        {
            await using var gateway = await EffectGateway.StartAsync(Settings(storage), _runs, _gate);
            using var gauge = Collect(gateway, "cardgateway.effects");
            var card = await gateway.SendCardAsync();
            _runs.Down("a");
            _runs.Down("b");

            await gateway.ClickAsync(card, "u1", new { action = "effect", note = "a" });
            await gateway.ClickAsync(card, "u2", new { action = "effect", note = "b" });
            await Eventually.TrueAsync(() => Observed(gauge) == (0, 2), "two dead effects on the gauge");
            _runs.Up("a");
            _runs.Up("b");

            var none = await HttpAssert.JsonAsync(await gateway.Api.PostAsync("/api/effects/retry?effect=OtherEffect&status=dead", null), HttpStatusCode.Accepted);
            Assert.Equal(0, none.GetProperty("retried").GetInt32());
            var all = await HttpAssert.JsonAsync(await gateway.Api.PostAsync("/api/effects/retry?effect=RecordingEffect&status=dead", null), HttpStatusCode.Accepted);

            Assert.Equal(("RecordingEffect", 2), (all.GetProperty("effect").GetString(), all.GetProperty("retried").GetInt32()));
            await Eventually.TrueAsync(async () => (await StatusesAsync(gateway, card)).SequenceEqual(["Done", "Done"]), "both run again and done");
            await Eventually.TrueAsync(() => Observed(gauge) == (0, 0), "no dead effect left on the gauge");
            Assert.True(_runs.Of("a")[^1].Succeeded && _runs.Of("b")[^1].Succeeded);
            Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 8013 && e.RenderMessage().Contains("2 dead effect(s) named", StringComparison.Ordinal)
                && e.RenderMessage().Contains("RecordingEffect", StringComparison.Ordinal));
        });

    [Theory]
    [InlineData("POST", "/api/effects/abc/retry")]
    [InlineData("POST", "/api/effects/0/retry")]
    [InlineData("POST", "/api/effects/-1/retry")]
    [InlineData("POST", "/api/effects/99999999999999999999999/retry")]
    [InlineData("POST", "/api/effects/1%27%20OR%201=1/retry")]
    [InlineData("DELETE", "/api/effects/1.5")]
    [InlineData("DELETE", "/api/effects/%20")]
    [InlineData("POST", "/api/effects/retry")]
    [InlineData("POST", "/api/effects/retry?effect=RecordingEffect")]
    [InlineData("POST", "/api/effects/retry?effect=RecordingEffect&status=pending")]
    [InlineData("POST", "/api/effects/retry?effect=%20&status=dead")]
    public Task A_hostile_id_or_query_is_a_bad_request_with_problem_details(string method, string path) =>
        WithDatabaseAsync(StorageOptions.Sqlite, async storage =>
        {
            await using var gateway = await EffectGateway.StartAsync(storage, _runs, _gate);

            using var response = await gateway.Api.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

            await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        });

    [Fact]
    public Task An_effect_id_nobody_has_is_not_found_and_the_routes_need_the_admin_key() =>
        WithDatabaseAsync(StorageOptions.Sqlite, async storage =>
        {
            await using var gateway = await EffectGateway.StartAsync(storage, _runs, _gate);

            await HttpAssert.ProblemAsync(await gateway.Api.PostAsync("/api/effects/9223372036854775807/retry", null), HttpStatusCode.NotFound);
            await HttpAssert.ProblemAsync(await gateway.Api.DeleteAsync("/api/effects/42"), HttpStatusCode.NotFound);
            using var anonymous = gateway.App.CreateClient();
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/api/effects/retry?effect=RecordingEffect&status=dead", null)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.DeleteAsync("/api/effects/1")).StatusCode);
        });

    private static MetricCollector<long> Collect(EffectGateway gateway, string instrument) =>
        new(gateway.App.Services.GetRequiredService<IMeterFactory>(), GatewayMetrics.MeterName, instrument);

    /// <summary>The runs of <see cref="RecordingEffect"/> counted so far: (dead, done, retrying).</summary>
    private static (int Dead, int Done, int Retrying) Results(MetricCollector<long> runs)
    {
        var results = runs.GetMeasurementSnapshot().Where(m => (string?)m.Tags["effect"] == "RecordingEffect").Select(m => (string?)m.Tags["result"]).ToList();
        return (results.Count(r => r == "dead"), results.Count(r => r == "done"), results.Count(r => r == "retrying"));
    }

    /// <summary>The gauge's latest (pending, dead), -1 for a status it has not counted yet.</summary>
    private static (long Pending, long Dead) Observed(MetricCollector<long> gauge)
    {
        gauge.RecordObservableInstruments();
        var snapshot = gauge.GetMeasurementSnapshot();
        return (
            snapshot.LastOrDefault(m => (string?)m.Tags["status"] == "pending")?.Value ?? -1,
            snapshot.LastOrDefault(m => (string?)m.Tags["status"] == "dead")?.Value ?? -1);
    }
}
