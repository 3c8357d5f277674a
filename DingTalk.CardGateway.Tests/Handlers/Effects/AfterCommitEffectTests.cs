using System.Net;
using System.Text.Json;
using Dapper;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace DingTalk.CardGateway.Tests.Handlers.Effects;

/// <summary>
/// Effects after the commit (<c>CardActionResult.AndAfterCommit</c>): run once a click commits, at least once, with an
/// idempotency key stable across retries; never for a click that did not commit, a run that was undone or a
/// redelivery; surviving a stop, a crash and a second replica. Each on SQLite and PostgreSQL where the database matters.
/// </summary>
public sealed class AfterCommitEffectTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly EffectRuns _runs = new();
    private readonly HandlerGate _gate = new();

    [SkippableTheory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public Task An_effect_runs_once_after_its_click_commits_and_a_redelivery_of_the_click_queues_none(string provider) =>
        WithDatabaseAsync(provider, async storage =>
        {
            await using var gateway = await EffectGateway.StartAsync(storage, _runs, _gate);
            var card = await gateway.SendCardAsync();
            var at = DateTimeOffset.UtcNow;

            var answer = await gateway.ClickAsync(card, "u1", new { action = "effect", note = "ticket" }, at);
            await Eventually.TrueAsync(() => _runs.Of("ticket").Count == 1, "the effect's run");
            var again = await gateway.ClickAsync(card, "u1", new { action = "effect", note = "ticket" }, at); // DingTalk delivers it again

            Assert.Equal("ticket", answer.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("queued").GetString());
            Assert.Equal(answer.GetRawText(), again.GetRawText());
            var callback = Assert.Single(await gateway.HistoryAsync(card));
            await Eventually.TrueAsync(async () => (await StatusesAsync(gateway, card)).SequenceEqual(["Done"]), "the effect marked done, and no other queued");
            var run = Assert.Single(_runs.Of("ticket"));
            Assert.Equal(callback.CallbackId + ":0", run.IdempotencyKey);
            Assert.Equal((callback.CallbackId, card, 1), (run.CallbackId, run.CardId, run.Attempt));
            Assert.Equal(0, (await gateway.EffectsShownAsync(card)).GetArrayLength()); // done: not listed
            Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 8001
                && e.RenderMessage().Contains(callback.CallbackId, StringComparison.Ordinal) && e.RenderMessage().Contains("RecordingEffect", StringComparison.Ordinal));
        });

    [SkippableTheory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public Task An_effect_is_not_run_when_its_clicks_transaction_fails_and_runs_once_when_the_click_is_delivered_again(string provider) =>
        WithDatabaseAsync(provider, async storage =>
        {
            await using var gateway = await EffectGateway.StartAsync(storage, _runs, _gate);
            var card = await gateway.SendCardAsync();
            var at = DateTimeOffset.UtcNow;
            await ExecuteAsync(gateway, RefuseOutcomes(provider, card)); // the database fails the click's transaction after its handler ran

            using var failed = await gateway.PostClickAsync(card, "u1", new { action = "effect", note = "refused" }, at);
            Assert.False(failed.IsSuccessStatusCode, $"the click answered {failed.StatusCode} though its transaction failed");
            Assert.Empty(await StatusesAsync(gateway, card));

            await ExecuteAsync(gateway, "DROP TRIGGER refuse_outcome" + (provider == StorageOptions.Postgres ? " ON callbacks" : ""));
            await gateway.ClickAsync(card, "u1", new { action = "effect", note = "refused" }, at); // DingTalk retries it
            await Eventually.TrueAsync(async () => (await StatusesAsync(gateway, card)).SequenceEqual(["Done"]), "the effect of the click that committed");
            var run = Assert.Single(_runs.Of("refused"));
            Assert.Equal(1, run.Attempt);
        });

    [SkippableTheory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public Task An_effect_that_throws_is_retried_with_the_same_idempotency_key_and_its_payload_is_never_logged(string provider) =>
        WithDatabaseAsync(provider, async storage =>
        {
            await using var gateway = await EffectGateway.StartAsync(storage, _runs, _gate);
            var card = await gateway.SendCardAsync();

            await gateway.ClickAsync(card, "u1", new { action = "effect", note = "flaky", fail = 2, secret = "hook-secret-4711" });
            await Eventually.TrueAsync(async () => (await StatusesAsync(gateway, card)).SequenceEqual(["Done"]), "the effect done on its third run");

            var runs = _runs.Of("flaky");
            Assert.Equal([1, 2, 3], runs.Select(r => r.Attempt));
            Assert.Equal([false, false, true], runs.Select(r => r.Succeeded));
            var callback = Assert.Single(await gateway.HistoryAsync(card));
            Assert.All(runs, r => Assert.Equal(callback.CallbackId + ":0", r.IdempotencyKey));
            var retries = gateway.Logs.LogEvents.Where(e => CardCallbackEndpointTests.EventId(e) == 8002).Select(e => e.RenderMessage()).ToList();
            Assert.Equal(2, retries.Count(m => m.Contains(callback.CallbackId, StringComparison.Ordinal) && m.Contains("RecordingEffect", StringComparison.Ordinal)));
            Assert.DoesNotContain(
                gateway.Logs.LogEvents.Where(e => CardCallbackEndpointTests.EventId(e) is >= 8001 and <= 8012),
                e => (e.RenderMessage() + e.Exception).Contains("hook-secret-4711", StringComparison.Ordinal));
        });

    [SkippableTheory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public Task An_effect_failing_past_GiveUpAfter_is_dead_and_shown_with_its_attempts_and_last_error(string provider) =>
        WithDatabaseAsync(provider, async storage =>
        {
            await using var gateway = await EffectGateway.StartAsync(new Dictionary<string, string?>(storage) { ["Gateway:Outbox:GiveUpAfter"] = "00:00:01" }, _runs, _gate);
            var card = await gateway.SendCardAsync();

            await gateway.ClickAsync(card, "u1", new { action = "effect", note = "down", fail = -1 });
            await Eventually.TrueAsync(async () => (await StatusesAsync(gateway, card)).SequenceEqual(["Dead"]), "the effect given up");

            var shown = Assert.Single((await gateway.EffectsShownAsync(card)).EnumerateArray());
            Assert.Equal("Dead", shown.GetProperty("status").GetString());
            Assert.Equal("RecordingEffect", shown.GetProperty("effect").GetString());
            Assert.Equal(_runs.Of("down").Count, shown.GetProperty("attempts").GetInt32());
            Assert.True(shown.GetProperty("attempts").GetInt32() >= 2, "given up before it was ever retried");
            Assert.Contains("the ticket system is down", shown.GetProperty("lastError").GetString(), StringComparison.Ordinal);
            Assert.False(shown.TryGetProperty("payload", out _));
            await Eventually.TrueAsync( // logged once the dispatcher's mark has committed, which the read above may see first
                () => gateway.Logs.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == 8003 && e.RenderMessage().Contains(card, StringComparison.Ordinal)),
                "8003 for the effect given up");
        });

    [SkippableTheory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public Task A_permanent_failure_is_dead_at_once_and_retention_purges_done_effects_but_keeps_dead_ones(string provider) =>
        WithDatabaseAsync(provider, async storage =>
        {
            await using var gateway = await EffectGateway.StartAsync(storage, _runs, _gate);
            var card = await gateway.SendCardAsync();

            await gateway.ClickAsync(card, "u1", new { action = "effect", note = "refused-for-good", permanent = true });
            await gateway.ClickAsync(card, "u2", new { action = "effect", note = "fine" });
            await Eventually.TrueAsync(async () => (await StatusesAsync(gateway, card)).Order().SequenceEqual(["Dead", "Done"]), "one effect dead, the other done");

            Assert.Single(_runs.Of("refused-for-good"));
            var shown = Assert.Single((await gateway.EffectsShownAsync(card)).EnumerateArray());
            Assert.Equal(("Dead", 1), (shown.GetProperty("status").GetString(), shown.GetProperty("attempts").GetInt32()));
            Assert.Contains("refused refused-for-good for good", shown.GetProperty("lastError").GetString(), StringComparison.Ordinal);
            Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 8004 && e.RenderMessage().Contains(card, StringComparison.Ordinal));

            await gateway.PurgeEightDaysOnAsync();
            Assert.Equal(["Dead"], await StatusesAsync(gateway, card));
        });

    [SkippableTheory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public Task An_effect_cut_off_as_the_gateway_stops_runs_again_once_a_gateway_starts_on_the_database(string provider) =>
        WithDatabaseAsync(provider, async storage =>
        {
            await using var dingTalk = await FakeDingTalk.StartAsync();
            var settings = new Dictionary<string, string?>(storage) { ["Gateway:Callbacks:StopGrace"] = "00:00:00.200" };
            var gateName = Guid.NewGuid().ToString("N");
            string card;
            await using (var first = await EffectGateway.StartAsync(settings, _runs, _gate, dingTalk))
            {
                card = await first.SendCardAsync();
                await first.ClickAsync(card, "u1", new { action = "effect", note = "at-stop", effectGate = gateName });
                await _gate.Entered(gateName).WaitAsync(Patience); // running when the gateway stops
                await first.DisposeAsync();
                Assert.Contains(first.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 8007);
            }

            Assert.Empty(_runs.Of("at-stop"));
            _gate.Open(gateName);
            await using var second = await EffectGateway.StartAsync(settings, _runs, _gate, dingTalk);
            await Eventually.TrueAsync(async () => (await StatusesAsync(second, card)).SequenceEqual(["Done"]), "the effect run by the gateway started after");

            var run = Assert.Single(_runs.Of("at-stop"));
            var callback = Assert.Single(await second.HistoryAsync(card));
            Assert.Equal((callback.CallbackId + ":0", 2), (run.IdempotencyKey, run.Attempt));
        });

    [Fact]
    public Task A_stop_with_a_grace_longer_than_EffectTimeout_still_cancels_a_running_effect_at_its_timeout() =>
        WithDatabaseAsync(StorageOptions.Sqlite, async storage =>
        {
            // The stop's grace is a bound on what the stop waits for, never an extension of the run: past EffectTimeout the
            // run is cancelled and retried, as when the gateway is not stopping.
            var settings = new Dictionary<string, string?>(storage)
            {
                ["Gateway:Outbox:EffectTimeout"] = "00:00:02",
                ["Gateway:Callbacks:StopGrace"] = "00:00:20",
            };
            var gateName = Guid.NewGuid().ToString("N");
            await using var gateway = await EffectGateway.StartAsync(settings, _runs, _gate);
            var card = await gateway.SendCardAsync();
            await gateway.ClickAsync(card, "u1", new { action = "effect", note = "stopping", effectGate = gateName });
            await _gate.Entered(gateName).WaitAsync(Patience); // running, and honouring its token, when the gateway stops

            await gateway.DisposeAsync();

            Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 8005);
            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 8007);
            Assert.Equal(["Pending"], await StatusesAsync(storage, card));
            Assert.Empty(_runs.Of("stopping"));
        });

    [SkippableTheory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public Task An_effect_deaf_to_its_cancelled_token_keeps_its_hold_and_is_not_run_again_beside_itself(string provider) =>
        WithDatabaseAsync(provider, async storage =>
        {
            // Blocking code ignores its token. Its hold (EffectTimeout plus a second) used to run out while it went on, and the
            // effect was claimed and run again beside it: the webhook called twice at once, and a slot of the dispatcher taken
            // by each claim until none was left for any other effect.
            var settings = new Dictionary<string, string?>(storage)
            {
                ["Gateway:Outbox:EffectTimeout"] = "00:00:01.500", // a hold of 2.5 s, renewed every 0.83 s: a loaded machine's stall of a second does not lose it
                ["Gateway:Outbox:PollInterval"] = "00:00:00.010",
            };
            var gateName = Guid.NewGuid().ToString("N");
            await using var gateway = await EffectGateway.StartAsync(settings, _runs, _gate);
            var card = await gateway.SendCardAsync();
            await gateway.ClickAsync(card, "u1", new { action = "effect", note = "deaf", effectGate = gateName, deaf = true });
            await _gate.Entered(gateName).WaitAsync(Patience);
            var claimed = await HoldAsync(gateway, card);

            // Three of its holds on (each 2.5 s), looked for every 10 ms: an effect whose hold had run out was claimed again by now.
            await Eventually.TrueAsync(async () => (await HoldAsync(gateway, card)).HeldUntil >= claimed.HeldUntil + 7_500, "the hold kept three holds past the claim");

            Assert.Equal(1, _gate.Arrivals(gateName));
            Assert.Equal(1, (await HoldAsync(gateway, card)).Attempts);
            var callback = Assert.Single(await gateway.HistoryAsync(card));
            Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 8015 && e.Level == Serilog.Events.LogEventLevel.Error
                && e.RenderMessage().Contains(callback.CallbackId, StringComparison.Ordinal));

            _gate.Open(gateName); // it ends after all: done, by its one run
            await Eventually.TrueAsync(async () => (await StatusesAsync(gateway, card)).SequenceEqual(["Done"]), "the effect marked done once its run ended");
            Assert.Equal(1, Assert.Single(_runs.Of("deaf")).Attempt);
        });

    [SkippableTheory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public Task An_effect_whose_hold_is_no_longer_its_replicas_is_cancelled_and_marks_nothing(string provider) =>
        WithDatabaseAsync(provider, async storage =>
        {
            // The hold's renewal finds the effect claimed by another (this replica was frozen past its hold, say): the run is
            // cancelled at once rather than going on beside the other replica's.
            var settings = new Dictionary<string, string?>(storage) { ["Gateway:Outbox:EffectTimeout"] = "00:00:03" };
            var gateName = Guid.NewGuid().ToString("N");
            await using var gateway = await EffectGateway.StartAsync(settings, _runs, _gate);
            var card = await gateway.SendCardAsync();
            await gateway.ClickAsync(card, "u1", new { action = "effect", note = "taken-over", effectGate = gateName });
            await _gate.Entered(gateName).WaitAsync(Patience);

            await ExecuteAsync(gateway, "UPDATE effects SET owner = 'another-replica', attempts = attempts + 1");
            await Eventually.TrueAsync(
                () => gateway.Logs.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == 8016 && e.RenderMessage().Contains("RecordingEffect", StringComparison.Ordinal)),
                "8016 for the run whose hold another replica holds");

            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 8005); // cancelled for its hold, not its timeout
            Assert.Equal(["Pending"], await StatusesAsync(gateway, card));
            Assert.Equal(2, (await HoldAsync(gateway, card)).Attempts);
            Assert.Empty(_runs.Of("taken-over"));
        });

    [SkippableTheory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public Task An_effect_that_fails_for_good_after_its_hold_became_another_replicas_is_not_reported_dead(string provider) =>
        WithDatabaseAsync(provider, async storage =>
        {
            // The run is deaf, so it goes on after the renewal found its hold another's, and then fails for good. Its mark
            // (fenced by the claim) changes nothing: the other replica runs the effect and marks it. Before, it was still
            // reported refused for good (8004: "stays visible, dead") and counted dead, though it stayed pending.
            var settings = new Dictionary<string, string?>(storage) { ["Gateway:Outbox:EffectTimeout"] = "00:00:03" };
            var gateName = Guid.NewGuid().ToString("N");
            await using var gateway = await EffectGateway.StartAsync(settings, _runs, _gate);
            var card = await gateway.SendCardAsync();
            await gateway.ClickAsync(card, "u1", new { action = "effect", note = "refused-after-takeover", effectGate = gateName, deaf = true, permanent = true });
            await _gate.Entered(gateName).WaitAsync(Patience);
            var callback = Assert.Single(await gateway.HistoryAsync(card));

            await ExecuteAsync(gateway, "UPDATE effects SET owner = 'another-replica', attempts = attempts + 1");
            await Eventually.TrueAsync(
                () => gateway.Logs.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == 8019 && e.RenderMessage().Contains(callback.CallbackId, StringComparison.Ordinal)),
                "the run cancelled for its hold, and deaf to it");
            _gate.Open(gateName); // it fails for good now
            await Eventually.TrueAsync(
                () => gateway.Logs.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) is 8018 or 8004 && e.RenderMessage().Contains(callback.CallbackId, StringComparison.Ordinal)),
                "what the run's end was told as");

            Assert.Single(_runs.Of("refused-after-takeover")); // it did end, failing
            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 8004);
            Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 8018 && e.RenderMessage().Contains(callback.CallbackId, StringComparison.Ordinal));
            Assert.Equal(["Pending"], await StatusesAsync(gateway, card));
            Assert.Equal(2, (await HoldAsync(gateway, card)).Attempts);
        });

    [SkippableTheory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public Task A_deaf_effect_whose_hold_became_another_replicas_is_named_so_and_marks_nothing_when_it_ends(string provider) =>
        WithDatabaseAsync(provider, async storage =>
        {
            // Its hold taken over (this replica was frozen past it, say), a run deaf to its cancelled token goes on beside the
            // other replica's: the log must not say its hold is kept (8015), nor, once it ends, that it ran (8001).
            var settings = new Dictionary<string, string?>(storage) { ["Gateway:Outbox:EffectTimeout"] = "00:00:03" };
            var gateName = Guid.NewGuid().ToString("N");
            await using var gateway = await EffectGateway.StartAsync(settings, _runs, _gate);
            var card = await gateway.SendCardAsync();
            await gateway.ClickAsync(card, "u1", new { action = "effect", note = "deaf-taken-over", effectGate = gateName, deaf = true });
            await _gate.Entered(gateName).WaitAsync(Patience);

            await ExecuteAsync(gateway, "UPDATE effects SET owner = 'another-replica', attempts = attempts + 1");
            await Eventually.TrueAsync(() => gateway.Logs.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == 8019), "8019 for the deaf run beside the other replica's");
            _gate.Open(gateName);
            await Eventually.TrueAsync(
                () => gateway.Logs.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == 8018 && e.RenderMessage().Contains("ran to its end", StringComparison.Ordinal)),
                "8018 for the run that ran to its end after its hold was gone");

            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) is 8015 or 8001);
            Assert.Equal(["Pending"], await StatusesAsync(gateway, card));
            Assert.Equal(2, (await HoldAsync(gateway, card)).Attempts);
        });

    [SkippableTheory]
    [InlineData(StorageOptions.Sqlite)]
    [InlineData(StorageOptions.Postgres)]
    public Task An_effect_cut_off_by_the_stop_after_its_hold_became_another_replicas_is_not_reported_due_again(string provider) =>
        WithDatabaseAsync(provider, async storage =>
        {
            // A run deaf to the stop's cancelled token goes on; meanwhile its hold becomes another replica's (this one frozen
            // past it, say); then the run sees its token. Its mark (fenced by the claim) changes nothing: the replica holding
            // it runs it. Before, it was still told as cut off by the stop and due again at once (8007), and counted retrying.
            var settings = new Dictionary<string, string?>(storage) { ["Gateway:Callbacks:StopGrace"] = "00:00:00" };
            var gateName = Guid.NewGuid().ToString("N");
            await using var gateway = await EffectGateway.StartAsync(settings, _runs, _gate);
            var card = await gateway.SendCardAsync();
            await gateway.ClickAsync(card, "u1", new { action = "effect", note = "stopped-after-takeover", effectGate = gateName, deaf = true, thenHonours = true });
            await _gate.Entered(gateName).WaitAsync(Patience);
            var callback = Assert.Single(await gateway.HistoryAsync(card));

            var stopped = gateway.DisposeAsync().AsTask(); // waits for the run
            await Eventually.TrueAsync(
                () => gateway.Logs.LogEvents.Any(e => CardCallbackEndpointTests.EventId(e) == 8015 && e.RenderMessage().Contains(callback.CallbackId, StringComparison.Ordinal)),
                "the run cut off by the stop, and deaf to it");
            await ExecuteAsync(gateway, "UPDATE effects SET owner = 'another-replica', attempts = attempts + 1");
            _gate.Open(gateName); // the run sees its cancelled token now
            await stopped.WaitAsync(Patience);

            Assert.DoesNotContain(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 8007);
            Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 8018 && e.RenderMessage().Contains(callback.CallbackId, StringComparison.Ordinal));
            Assert.Equal(["Pending"], await StatusesAsync(storage, card));
        });

    [Fact]
    public Task On_SQLite_an_effect_a_crashed_process_was_running_runs_again_at_once_when_the_gateway_restarts() =>
        WithDatabaseAsync(StorageOptions.Sqlite, async storage =>
        {
            await using var dingTalk = await FakeDingTalk.StartAsync();
            var settings = new Dictionary<string, string?>(storage)
            {
                ["Gateway:Callbacks:StopGrace"] = "00:00:00.200",
                ["Gateway:Outbox:EffectTimeout"] = "00:10:00", // a hold far past the test's patience: only its release lets it run
            };
            var gateName = Guid.NewGuid().ToString("N");
            string card;
            await using (var first = await EffectGateway.StartAsync(settings, _runs, _gate, dingTalk))
            {
                card = await first.SendCardAsync();
                await first.ClickAsync(card, "u1", new { action = "effect", note = "at-crash", effectGate = gateName });
                await _gate.Entered(gateName).WaitAsync(Patience);

                // As if the process running it had died: its hold on the effect stays, and nothing it does marks it now.
                await ExecuteAsync(first, "UPDATE effects SET owner = 'a-process-that-died'");
                await first.DisposeAsync();
            }

            Assert.Equal(["Pending"], await StatusesAsync(storage, card));
            _gate.Open(gateName);
            await using var second = await EffectGateway.StartAsync(settings, _runs, _gate, dingTalk);
            await Eventually.TrueAsync(async () => (await StatusesAsync(second, card)).SequenceEqual(["Done"]), "the effect run at once after the restart");

            Assert.Equal(2, Assert.Single(_runs.Of("at-crash")).Attempt);
            Assert.Contains(second.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 8009);
        });

    [SkippableFact]
    public Task On_PostgreSQL_two_replicas_run_each_effect_once() =>
        WithDatabaseAsync(StorageOptions.Postgres, async storage =>
        {
            await using var dingTalk = await FakeDingTalk.StartAsync();
            var settings = new Dictionary<string, string?>(storage) { ["Gateway:Outbox:PollInterval"] = "00:00:00.010" };
            await using var one = await EffectGateway.StartAsync(settings, _runs, _gate, dingTalk);
            await using var two = await EffectGateway.StartAsync(settings, _runs, _gate, dingTalk);
            var card = await one.SendCardAsync();

            var notes = Enumerable.Range(0, 40).Select(i => $"replicated-{i}").ToList();
            await Task.WhenAll(notes.Select((note, i) => (i % 2 == 0 ? one : two).ClickAsync(card, $"u{i}", new { action = "effect", note })));
            await Eventually.TrueAsync(
                async () => (await StatusesAsync(one, card)) is { Count: 40 } statuses && statuses.All(s => s == "Done"), "every effect done");

            Assert.All(notes, note => Assert.Single(_runs.Of(note)));
            Assert.Equal(40, _runs.All.Select(r => r.IdempotencyKey).Distinct().Count());
        });

    [Fact]
    public Task A_run_undone_after_another_click_changed_its_state_takes_its_effect_with_it() =>
        WithDatabaseAsync(StorageOptions.Sqlite, async storage =>
        {
            await using var gateway = await EffectGateway.StartAsync(storage, _runs, _gate);
            var card = await gateway.SendCardAsync();
            var gateName = Guid.NewGuid().ToString("N");

            // u1's handler counts, then waits (away from SQLite's writer); u2 counts meanwhile: u1's first run is undone.
            var waiting = gateway.ClickAsync(card, "u1", new { action = "effect", note = "u1", count = true, gate = gateName });
            await _gate.Entered(gateName).WaitAsync(Patience);
            await gateway.ClickAsync(card, "u2", new { action = "count" }).WaitAsync(Patience);
            _gate.Open(gateName);
            var answer = await waiting.WaitAsync(Patience);

            Assert.Equal("u1-run2", answer.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("queued").GetString());
            await Eventually.TrueAsync(async () => (await StatusesAsync(gateway, card)).SequenceEqual(["Done"]), "the effect of the run that counted");
            Assert.Single(_runs.Of("u1-run2"));
            Assert.Empty(_runs.Of("u1-run1"));
        });

    [Fact]
    public Task A_handler_asking_for_an_effect_nobody_registered_fails_and_says_how_to_register_it() =>
        WithDatabaseAsync(StorageOptions.Sqlite, async storage =>
        {
            await using var gateway = await EffectGateway.StartAsync(storage, _runs, _gate);
            var card = await gateway.SendCardAsync();

            var answer = await gateway.ClickAsync(card, "u1", new { action = "effect", note = "nobody", unregistered = true });

            Assert.Equal("{}", answer.GetRawText());
            Assert.Equal(CallbackOutcome.HandlerFailed, Assert.Single(await gateway.HistoryAsync(card)).Outcome);
            Assert.Empty(await StatusesAsync(gateway, card));
            Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3102
                && e.Exception?.Message.Contains("services.AddCardEffect<UnregisteredEffect, …>()", StringComparison.Ordinal) == true);
        });

    [Fact]
    public Task A_handler_asking_for_an_unregistered_effect_named_as_a_registered_one_fails_instead_of_running_the_other() =>
        WithDatabaseAsync(StorageOptions.Sqlite, async storage =>
        {
            // Effects are stored and found under their type's name: asked for, a class of another namespace named as a
            // registered effect was queued, and the registered one ran with its payload.
            await using var gateway = await EffectGateway.StartAsync(storage, _runs, _gate);
            var card = await gateway.SendCardAsync();

            var answer = await gateway.ClickAsync(card, "u1", new { action = "effect", note = "namesake", namesake = true });

            Assert.Equal("{}", answer.GetRawText());
            Assert.Equal(CallbackOutcome.HandlerFailed, Assert.Single(await gateway.HistoryAsync(card)).Outcome);
            Assert.Empty(await StatusesAsync(gateway, card));
            Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 3102
                && e.Exception?.Message.Contains(typeof(EffectHandler.Elsewhere.RecordingEffect).FullName!, StringComparison.Ordinal) == true
                && e.Exception.Message.Contains(typeof(RecordingEffect).FullName!, StringComparison.Ordinal));
        });

    /// <summary>Runs <paramref name="test"/> on a new, empty database of <paramref name="provider"/> (its storage settings), removed afterwards.</summary>
    internal static async Task WithDatabaseAsync(string provider, Func<Dictionary<string, string?>, Task> test)
    {
        if (provider == StorageOptions.Postgres)
        {
            await PostgresServer.WithDatabaseAsync(connectionString => test(EffectGateway.Storage(provider, connectionString)));
            return;
        }

        var path = Path.Combine(Path.GetTempPath(), $"cg-effects-{Guid.NewGuid():N}.db");
        try
        {
            await test(EffectGateway.Storage(provider, $"Data Source={path}"));
        }
        finally
        {
            SqliteFiles.Delete(path);
        }
    }

    /// <summary>Triggers that fail the recording of any outcome of a click on <paramref name="card"/>: its transaction fails as it commits.</summary>
    private static string RefuseOutcomes(string provider, string card) => provider == StorageOptions.Postgres
        ? $"""
          CREATE FUNCTION refuse_outcome() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'the disk hiccupped'; END $$ LANGUAGE plpgsql;
          CREATE TRIGGER refuse_outcome BEFORE INSERT OR UPDATE ON callbacks FOR EACH ROW
          WHEN (NEW.card_id = '{card}' AND NEW.outcome <> 'Pending') EXECUTE FUNCTION refuse_outcome();
          """
        : $"""
          CREATE TRIGGER refuse_outcome BEFORE INSERT ON callbacks WHEN NEW.card_id = '{card}' AND NEW.outcome <> 'Pending'
          BEGIN SELECT RAISE(ABORT, 'the disk hiccupped'); END;
          CREATE TRIGGER refuse_outcome_update BEFORE UPDATE ON callbacks WHEN NEW.card_id = '{card}' AND NEW.outcome <> 'Pending'
          BEGIN SELECT RAISE(ABORT, 'the disk hiccupped'); END;
          """;

    private static async Task ExecuteAsync(EffectGateway gateway, string sql)
    {
        await using var connection = await gateway.App.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default);
        await connection.ExecuteAsync(sql);
    }

    /// <summary>The statuses of the effects queued for <paramref name="card"/>, in id order, as the database has them.</summary>
    internal static async Task<IReadOnlyList<string>> StatusesAsync(EffectGateway gateway, string card)
    {
        await using var connection = await gateway.App.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default);
        return [.. await connection.QueryAsync<string>("SELECT status FROM effects WHERE card_id = @card ORDER BY id", new { card })];
    }

    /// <summary>Until when the (one) effect queued for <paramref name="card"/> is held or due (Unix ms), and its attempts so far.</summary>
    private static async Task<(long HeldUntil, int Attempts)> HoldAsync(EffectGateway gateway, string card)
    {
        await using var connection = await gateway.App.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default);
        return await connection.QuerySingleAsync<(long, int)>("SELECT available_at, attempts FROM effects WHERE card_id = @card", new { card });
    }

    /// <summary>As above, on a database no gateway has open (SQLite or PostgreSQL, as <paramref name="storage"/> says).</summary>
    private static async Task<IReadOnlyList<string>> StatusesAsync(Dictionary<string, string?> storage, string card)
    {
        await using System.Data.Common.DbConnection connection = storage["Gateway:Storage:Provider"] == StorageOptions.Postgres
            ? new Npgsql.NpgsqlConnection(storage["Gateway:Storage:ConnectionString"])
            : new Microsoft.Data.Sqlite.SqliteConnection(storage["Gateway:Storage:ConnectionString"]);
        await connection.OpenAsync();
        return [.. await connection.QueryAsync<string>("SELECT status FROM effects WHERE card_id = @card ORDER BY id", new { card })];
    }
}
