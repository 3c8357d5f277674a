using System.Collections.Concurrent;
using System.Net;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using Dapper;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Cards.Wire;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>
/// The outbox dispatcher's passes driven one at a time against a real database, with a DingTalk card API that
/// answers as each test says and a clock the test moves. Run once per provider.
/// </summary>
public abstract class OutboxDispatcherTests<TFixture>(TFixture fixture)
    where TFixture : StorageFixture
{
    /// <summary>
    /// The dispatcher's clock at the start of each test: an hour after the real clock the stores stamp entries with, so
    /// every entry queued during the run is due at once and none is anywhere near <see cref="OutboxOptions.GiveUpAfter"/>.
    /// (A fixed date did that only until it passed: from then on the entries were not due yet and these tests failed.)
    /// </summary>
    protected static readonly DateTimeOffset T0 = DateTimeOffset.UtcNow.AddHours(1);

    protected TFixture Fixture => fixture;

    [SkippableFact]
    public async Task Updates_for_a_card_the_gateway_did_not_create_commit_in_the_order_they_were_queued()
    {
        SkipWithoutDatabase();
        var card = NewCardId(); // no row: a card another system sent, whose callbacks the gateway handles
        await using var first = fixture.Scope();
        var firstSession = first.ServiceProvider.GetRequiredService<StorageSession>();
        await firstSession.BeginAsync(default);
        await first.ServiceProvider.GetRequiredService<CardUpdates>().QueueAsync(Update(card, ("status", "approved")), afterAnswer: false, default);

        var second = Task.Run(() => QueueAsync(Update(card, ("comment", "see ticket"))));
        await Task.Delay(300);
        Assert.False(second.IsCompleted, "a second update for the card committed beside one still uncommitted, so their ids and commits could cross");
        await firstSession.CommitAsync(default);
        await second.WaitAsync(TimeSpan.FromSeconds(10));

        var api = new CardApi(card);
        await Dispatcher(api, new FakeTimeProvider(T0)).RunOnceAsync(default);

        var sent = Assert.Single(api.Updates);
        Assert.Equal(["comment", "status"], sent.CardData!.CardParamMap.Keys.Order());
        Assert.Equal(["Sent", "Sent"], await StatusesAsync(card));
    }

    [SkippableFact]
    public async Task A_lease_renewal_ended_by_a_finished_send_throws_nothing()
    {
        // Every card a pass looks at starts a renewal of its lease, stopped when the send is done: under load that is
        // dozens a second, and each stop used to throw (and catch) a TaskCanceledException.
        SkipWithoutDatabase();
        var cards = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var card = await SavedCardAsync();
            await QueueAsync(Update(card, ("total", i)));
            cards.Add(card);
        }

        var thrown = new ConcurrentQueue<string>();
        var inThisTest = new AsyncLocal<bool> { Value = true }; // flows into the renewals this test's passes start, not other tests'
        void Count(object? sender, FirstChanceExceptionEventArgs e)
        {
            if (inThisTest.Value && e.Exception is OperationCanceledException && Environment.StackTrace.Contains(nameof(LeaseRenewal), StringComparison.Ordinal))
            {
                thrown.Enqueue(e.Exception.GetType().Name);
            }
        }

        AppDomain.CurrentDomain.FirstChanceException += Count;
        try
        {
            await SendAllDueAsync(Dispatcher(new CardApi(cards[0]), new FakeTimeProvider(T0)));
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Count;
        }

        foreach (var card in cards)
        {
            Assert.Equal(["Sent"], await StatusesAsync(card));
        }

        Assert.Empty(thrown);
    }

    [SkippableFact]
    public async Task A_replacing_update_is_sent_on_its_own_so_private_values_queued_before_it_still_arrive()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        await QueueAsync(new PendingCardUpdate(card, CardKind.Advanced, null, new Dictionary<string, IReadOnlyDictionary<string, JsonElement>> { ["u1"] = Values(("role", "approver")) }));
        await QueueAsync(new PendingCardUpdate(card, CardKind.Advanced, Values(("title", "Reset")), null, Replace: true));
        await QueueAsync(Update(card, ("note", "after")));
        var api = new CardApi(card);
        var dispatcher = Dispatcher(api, new FakeTimeProvider(T0));

        await SendAllDueAsync(dispatcher);

        var sent = api.Updates.ToList();
        Assert.Equal(3, sent.Count);
        Assert.Equal("approver", sent[0].PrivateData!["u1"].CardParamMap["role"]);
        Assert.True(sent[0].CardUpdateOptions!.UpdatePrivateDataByKey);
        Assert.Equal("Reset", sent[1].CardData!.CardParamMap["title"]);
        Assert.False(sent[1].CardUpdateOptions!.UpdateCardDataByKey);
        Assert.Null(sent[1].PrivateData);
        Assert.Equal("after", sent[2].CardData!.CardParamMap["note"]);
        Assert.True(sent[2].CardUpdateOptions!.UpdateCardDataByKey);
        Assert.Equal(["Sent", "Sent", "Sent"], await StatusesAsync(card));
    }

    [SkippableFact]
    public async Task A_card_backing_off_is_not_due_because_a_newer_entry_of_it_is()
    {
        SkipWithoutDatabase();
        await DrainOtherTestsEntriesAsync();
        var card = await SavedCardAsync();
        var api = BusyApi(card);
        var clock = new FakeTimeProvider(T0);
        var dispatcher = Dispatcher(api, clock);
        await QueueAsync(Update(card, ("total", 1)));
        Assert.True(await dispatcher.RunOnceAsync(default)); // fails, backs off ~1 s
        await QueueAsync(Update(card, ("total", 2))); // due at once, but behind the first

        Assert.False(await dispatcher.RunOnceAsync(default), "a pass that sent nothing said it worked: the loop would run it again at once");
        Assert.Equal(1, api.Calls);

        clock.Advance(TimeSpan.FromSeconds(2));
        api.Answer = null;
        Assert.True(await dispatcher.RunOnceAsync(default));
        Assert.Equal("2", api.Updates.Single().CardData!.CardParamMap["total"]);
    }

    [SkippableFact]
    public async Task An_answer_leaving_does_not_cut_short_a_retrys_backoff()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        var api = BusyApi(card);
        var dispatcher = Dispatcher(api, new FakeTimeProvider(T0));
        var signal = fixture.Services.GetRequiredService<OutboxSignal>();
        await QueueAsync(Update(card, ("total", 1)));
        await dispatcher.RunOnceAsync(default); // DingTalk is down: backs off ~1 s

        // Votes keep coming while DingTalk is down; each answer that leaves releases the card.
        for (var vote = 0; vote < 5; vote++)
        {
            signal.AnswerSent(card);
            await dispatcher.RunOnceAsync(default);
        }

        Assert.Equal(1, api.Calls);
    }

    /// <summary>
    /// Replica B answered a click on a card whose update replica A is sending: B's answer leaving finds the card leased by
    /// A, and B's update, committed after A's fold, is not in A's send. Once A lets go, B's next pass sends it, as one
    /// replica's would right after its own send — not after <see cref="OutboxOptions.AnswerFirstDelay"/>, as if the answer
    /// had never left.
    /// </summary>
    [SkippableFact]
    public async Task An_answer_leaving_on_one_replica_while_another_sends_its_card_releases_the_cards_update_once_that_send_ends()
    {
        SkipWithoutDatabase();
        await DrainOtherTestsEntriesAsync();
        var card = await SavedCardAsync();
        await QueueAsync(Update(card, ("total", 1)));
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow); // an update queued from now on after an answer is not due before AnswerFirstDelay
        var sending = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var taken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var api = new CardApi(card)
        {
            Answer = async (_, call, _) =>
            {
                if (call == 1)
                {
                    sending.SetResult();
                    await taken.Task; // DingTalk slow to take replica A's send
                }
            },
        };
        var (signalA, signalB) = (new OutboxSignal(), new OutboxSignal());
        var (replicaA, replicaB) = (Dispatcher(api, clock, signal: signalA), Dispatcher(api, clock, signal: signalB));

        var passA = replicaA.RunOnceAsync(default);
        await sending.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await QueueAfterAnswerAsync(Update(card, ("total", 2))); // a vote replica B handled
        signalB.AnswerSent(card);
        Assert.False(await replicaB.RunOnceAsync(default)); // replica A holds the card

        taken.SetResult();
        Assert.True(await passA.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(await replicaB.RunOnceAsync(default), "the update of a click answered while another replica sent the card waited out AnswerFirstDelay");

        Assert.Equal(["1", "2"], api.Updates.Select(u => u.CardData!.CardParamMap["total"]));
        Assert.Equal(["Sent", "Sent"], await StatusesAsync(card));
    }

    [SkippableFact]
    public async Task A_failed_send_backs_off_from_when_it_failed()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        var clock = new FakeTimeProvider(T0);
        var api = new CardApi(card)
        {
            Answer = (_, _, _) =>
            {
                clock.Advance(TimeSpan.FromSeconds(8)); // the HTTP layer's own retries took 8 s before giving up
                throw Busy();
            },
        };
        var dispatcher = Dispatcher(api, clock);
        await QueueAsync(Update(card, ("total", 1)));

        await dispatcher.RunOnceAsync(default);
        await dispatcher.RunOnceAsync(default);

        Assert.Equal(1, api.Calls);
        Assert.Equal(["Pending"], await StatusesAsync(card));
    }

    [SkippableFact]
    public async Task A_retry_never_waits_longer_than_RetryMaxDelay_whatever_its_jitter()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        var clock = new FakeTimeProvider(T0);
        var api = BusyApi(card);
        var dispatcher = Dispatcher(api, clock);
        var maxDelay = Options.RetryMaxDelay;
        await QueueAsync(Update(card, ("total", 1)));

        // Past the 7th attempt the doubling backoff is capped; each later wait draws its jitter afresh (±20%), so 20
        // capped waits would all have to draw below the cap for a jitter added after the cap to go unseen.
        var waits = new List<TimeSpan>();
        for (var attempt = 1; attempt <= 27; attempt++)
        {
            Assert.True(await dispatcher.RunOnceAsync(default));
            await using var connection = await fixture.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default);
            var availableAt = await connection.QuerySingleAsync<long>("SELECT available_at FROM outbox WHERE card_id = @card", new { card });
            var wait = DateTimeOffset.FromUnixTimeMilliseconds(availableAt) - clock.GetUtcNow();
            waits.Add(wait);
            clock.Advance(wait);
        }

        Assert.Equal(27, api.Calls);
        Assert.All(waits, wait => Assert.InRange(wait, TimeSpan.Zero, maxDelay));
        Assert.All(waits.Skip(7), wait => Assert.InRange(wait, maxDelay * 0.8, maxDelay)); // still jittered below the cap
    }

    [SkippableFact]
    public async Task A_retry_waits_out_DingTalks_Retry_After_when_it_asks_longer_than_the_backoff()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        var clock = new FakeTimeProvider(T0);
        var api = new CardApi(card)
        {
            Answer = (_, _, _) => throw new DingTalkApiException(HttpStatusCode.TooManyRequests, "system.busy", "busy", null) { RetryAfter = TimeSpan.FromSeconds(30) },
        };
        var dispatcher = Dispatcher(api, clock);
        await QueueAsync(Update(card, ("total", 1)));
        Assert.True(await dispatcher.RunOnceAsync(default));
        api.Answer = null;

        Assert.True(Options.RetryDelay(1) < TimeSpan.FromSeconds(29), "the first backoff alone outlasts the wait this test checks");
        clock.Advance(TimeSpan.FromSeconds(29));
        await dispatcher.RunOnceAsync(default);
        Assert.Equal(1, api.Calls); // DingTalk asked for 30 s: the first backoff (a second or so) is not enough

        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.True(await dispatcher.RunOnceAsync(default));
        Assert.Equal("1", api.Updates.Single().CardData!.CardParamMap["total"]);
        Assert.Equal(["Sent"], await StatusesAsync(card));
    }

    [SkippableFact]
    public async Task A_replica_whose_card_was_taken_over_stops_its_send_and_marks_nothing()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        var clock = new FakeTimeProvider(T0);
        var sending = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = false;
        var api = new CardApi(card)
        {
            Answer = async (_, _, cancellationToken) =>
            {
                sending.SetResult();
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken); // DingTalk throttling, the HTTP layer retrying
                }
                catch (OperationCanceledException)
                {
                    cancelled = true;
                    throw;
                }
            },
        };
        var dispatcher = Dispatcher(api, clock);
        await QueueAsync(Update(card, ("total", 1)));

        var pass = dispatcher.RunOnceAsync(default);
        await sending.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await TakeOverAsync(card, clock, pass);

        Assert.True(await pass.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(cancelled, "the send went on after the card was taken over");
        Assert.Equal(["Pending", "Pending"], await StatusesAsync(card)); // the update, and the refresh queued behind it
    }

    [SkippableFact]
    public async Task A_send_goes_out_fenced_by_its_cards_lease()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        bool? fenced = null;
        var api = new CardApi(card)
        {
            Answer = (_, _, _) =>
            {
                fenced = LeaseFence.IsFenced; // what the HTTP stack's LeaseFenceHandler checks each attempt against
                return Task.CompletedTask;
            },
        };
        await QueueAsync(Update(card, ("total", 1)));

        Assert.True(await Dispatcher(api, new FakeTimeProvider(T0)).RunOnceAsync(default));

        Assert.True(fenced, "the send went out with no lease fence");
        Assert.False(LeaseFence.IsFenced);
        Assert.Equal(["Sent"], await StatusesAsync(card));
    }

    [SkippableFact]
    public async Task A_send_that_fails_as_its_card_is_taken_over_marks_nothing_and_does_not_fail_the_pass()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        var clock = new FakeTimeProvider(T0);
        var sending = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var api = new CardApi(card)
        {
            Answer = async (_, _, cancellationToken) =>
            {
                sending.SetResult();
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                }

                // The attempt under way when the card was taken over came back refused, and the HTTP layer's retry, told to
                // stop, reports that outcome rather than the cancellation (as Polly's retry does).
                throw Busy();
            },
        };
        var dispatcher = Dispatcher(api, clock);
        await QueueAsync(Update(card, ("total", 1)));

        var pass = dispatcher.RunOnceAsync(default);
        await sending.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await TakeOverAsync(card, clock, pass);

        // Not the dispatch loop's "could not reach the database", which would also cut off every other card's send of the pass.
        Assert.True(await pass.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(["Pending", "Pending"], await StatusesAsync(card)); // the update, and the refresh queued behind it
        Assert.Equal(0, (await EntryAsync((await EntriesOfAsync(card))[0])).Attempts); // the new owner's to send, no failure counted
    }

    [SkippableFact]
    public async Task An_older_update_cut_off_on_the_wire_that_lands_after_the_new_owners_newer_one_is_put_right_by_a_refresh()
    {
        SkipWithoutDatabase();
        var race = await WireRaceAsync(async (onItsWay, cancellationToken) =>
        {
            // Replica A's attempt: cut off on A's side when A loses the card, still on its way to DingTalk.
            onItsWay();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        });
        var pass = await VoteChangedWhileReplicaASendsAsync(race);
        Assert.True(await pass.WaitAsync(TimeSpan.FromSeconds(10)));

        // Replica B has the card and sends the newer total and vote; then A's attempt lands.
        var replicaB = await ReplicaBSendsTheChangedVoteAsync(race);
        race.AttemptLands();
        Assert.Equal(("1", "lunch"), race.Showing);

        // No vote comes after: the refresh A queued puts the card right.
        await RefreshedAsync(race, replicaB);
    }

    /// <summary>
    /// A replica that stops (a rolling deployment, scaling in) while its send of a card is on the wire cuts the send off and
    /// lets the card go at once, for another replica to take: the attempt may still land at DingTalk after that replica sent
    /// newer values, as after a lost lease — and, as there, a refresh puts the card right.
    /// </summary>
    [SkippableFact]
    public async Task An_older_update_cut_off_by_its_replica_stopping_that_lands_after_the_next_owners_newer_one_is_put_right_by_a_refresh()
    {
        SkipWithoutDatabase();
        var race = await WireRaceAsync(async (onItsWay, cancellationToken) =>
        {
            // Replica A's attempt, past the lease fence as the HTTP stack's LeaseFenceHandler checks it: cut off on
            // A's side as A stops, still on its way to DingTalk.
            LeaseFence.EnsureHeld();
            onItsWay();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        });
        await QueueAsync(Vote(race.Card, total: 1, "u1", "lunch"));
        using var stopping = new CancellationTokenSource();
        var pass = Dispatcher(race.Api, race.Clock).RunOnceAsync(stopping.Token);
        await race.Sending.WaitAsync(TimeSpan.FromSeconds(10));
        await QueueAsync(Vote(race.Card, total: 2, "u1", "dinner"));
        await stopping.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pass.WaitAsync(TimeSpan.FromSeconds(10)));

        // Replica B takes the card at once and sends the newer total and vote; then A's attempt lands.
        var replicaB = Dispatcher(race.Api, race.Clock);
        Assert.True(await replicaB.RunOnceAsync(default));
        Assert.Equal(("2", "dinner"), race.Showing);
        race.AttemptLands();
        Assert.Equal(("1", "lunch"), race.Showing);

        // No vote comes after: the refresh A queued as it stopped puts the card right.
        await RefreshedAsync(race, replicaB);
    }

    [SkippableFact]
    public async Task An_older_update_DingTalk_took_after_the_new_owners_newer_one_is_put_right_by_a_refresh()
    {
        SkipWithoutDatabase();
        var land = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var race = await WireRaceAsync(async (onItsWay, _) =>
        {
            // Replica A's attempt, past the point of no return: DingTalk carries it out when the test says, and answers.
            onItsWay();
            await land.Task;
        });
        var pass = await VoteChangedWhileReplicaASendsAsync(race);

        var replicaB = await ReplicaBSendsTheChangedVoteAsync(race);
        land.SetResult(); // A's update lands now, and A, marking it sent, finds the lease gone
        Assert.True(await pass.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(("1", "lunch"), race.Showing);

        await RefreshedAsync(race, replicaB);
    }

    [SkippableFact]
    public async Task A_send_that_keeps_its_lease_queues_no_refresh()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        var api = new CardApi(card);
        await QueueAsync(Update(card, ("total", 1)));
        var dispatcher = Dispatcher(api, new FakeTimeProvider(T0 + TimeSpan.FromHours(1))); // a refresh queued would be due at once

        await SendAllDueAsync(dispatcher);

        Assert.Equal(["Sent"], await StatusesAsync(card));
        Assert.Single(api.Updates);
    }

    [SkippableFact]
    public async Task A_refresh_sends_the_cards_stored_public_data_and_a_robot_cards_StandardCard_by_top_level_key()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        await QueueAsync(Update(card, ("total", 1), ("title", "Lunch")));
        await QueueAsync(Update(card, ("total", 2)));
        var robotCard = await SavedRobotCardAsync("""{"header":{"title":{"type":"text","text":"Deployed"}},"contents":[]}""");

        var api = new CardApi(card);
        var robot = new RobotApi();
        var dispatcher = Dispatcher(api, new FakeTimeProvider(T0), robot);
        await SendAllDueAsync(dispatcher);

        await QueueRefreshesAsync(PendingCardUpdate.RefreshOf(card, CardKind.Advanced), PendingCardUpdate.RefreshOf(robotCard, CardKind.Robot));

        await SendAllDueAsync(dispatcher);

        var refresh = api.Updates.Last();
        Assert.Equal(new Dictionary<string, string> { ["total"] = "2", ["title"] = "Lunch" }, refresh.CardData!.CardParamMap);
        Assert.Null(refresh.PrivateData);
        Assert.True(refresh.CardUpdateOptions!.UpdateCardDataByKey);
        var robotRefresh = Assert.Single(robot.Updates, u => u.CardBizId == robotCard);
        Assert.Equal(["contents", "header"], JsonDocument.Parse(robotRefresh.CardData).RootElement.EnumerateObject().Select(p => p.Name).Order());
        Assert.Contains("Deployed", robotRefresh.CardData, StringComparison.Ordinal);
        Assert.True(robotRefresh.UpdateOptions!.UpdateCardDataByKey);
    }

    [SkippableFact]
    public async Task A_refresh_sends_the_whole_stored_private_data_of_the_users_it_names_and_no_one_elses()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        await QueueAsync(new PendingCardUpdate(card, CardKind.Advanced, null, Private(("u1", ("vote", "lunch")), ("u2", ("vote", "dinner")))));
        await QueueAsync(new PendingCardUpdate(card, CardKind.Advanced, null, Private(("u1", ("comment", "no onions")))));
        var robotCard = await SavedRobotCardAsync(
            """{"contents":[]}""",
            new Dictionary<string, IReadOnlyDictionary<string, string>>
            {
                ["r1"] = new Dictionary<string, string> { ["vote"] = "lunch", ["comment"] = "no onions" },
                ["r2"] = new Dictionary<string, string> { ["vote"] = "dinner" },
            });

        var api = new CardApi(card);
        var robot = new RobotApi();
        var dispatcher = Dispatcher(api, new FakeTimeProvider(T0), robot);
        await SendAllDueAsync(dispatcher);

        // The users the lost attempt carried, one of them with nothing stored.
        await QueueRefreshesAsync(PendingCardUpdate.RefreshOf(card, CardKind.Advanced, ["u1", "u3"]), PendingCardUpdate.RefreshOf(robotCard, CardKind.Robot, ["r1"]));

        await SendAllDueAsync(dispatcher);

        var refresh = api.Updates.Last();
        Assert.Equal(["u1"], refresh.PrivateData!.Keys);
        Assert.Equal(new Dictionary<string, string> { ["vote"] = "lunch", ["comment"] = "no onions" }, refresh.PrivateData["u1"].CardParamMap);
        Assert.True(refresh.CardUpdateOptions!.UpdatePrivateDataByKey);
        var robotRefresh = Assert.Single(robot.Updates, u => u.CardBizId == robotCard);
        var robotUsers = JsonSerializer.Deserialize<Dictionary<string, Dictionary<string, string>>>(robotRefresh.UserIdPrivateDataMap!)!;
        Assert.Equal(["r1"], robotUsers.Keys);
        Assert.Equal(new Dictionary<string, string> { ["vote"] = "lunch", ["comment"] = "no onions" }, robotUsers["r1"]);
    }

    [SkippableFact]
    public async Task A_dead_letter_shows_the_failure_it_gave_up_on_not_an_earlier_attempts_DingTalk_code()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        var clock = new FakeTimeProvider(T0);
        var api = new CardApi(card)
        {
            Answer = (_, call, _) => call == 1
                ? throw Busy()
                : throw new HttpRequestException("Connection refused (api.dingtalk.com:443)"),
        };
        var dispatcher = Dispatcher(api, clock);
        var id = await QueueAsync(Update(card, ("total", 1)));
        await dispatcher.RunOnceAsync(default); // DingTalk busy: retried

        clock.Advance(Options.GiveUpAfter);
        await dispatcher.RunOnceAsync(default); // unreachable, past GiveUpAfter: dead-lettered

        var dead = await EntryAsync(id);
        Assert.Equal(OutboxStatus.Dead, dead.Status);
        Assert.Contains("Connection refused", dead.LastError, StringComparison.Ordinal);
        Assert.Null(dead.LastErrorStatus); // DingTalk never answered the attempt given up on: no code of its to show
        Assert.Null(dead.LastErrorCode);
    }

    [SkippableFact]
    public async Task A_dead_letter_for_a_missing_permission_keeps_the_scopes_DingTalk_named()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        var api = new CardApi(card)
        {
            Answer = (_, _, _) => throw new DingTalkApiException(
                HttpStatusCode.Forbidden, "Forbidden.AccessDenied.AccessTokenPermissionDenied", "no permission", "req-1", ["Card.Instance.Write", "Card.Streaming.Write"]),
        };
        var id = await QueueAsync(Update(card, ("total", 1)));

        await Dispatcher(api, new FakeTimeProvider(T0)).RunOnceAsync(default); // refused for good: dead-lettered at once

        await using var scope = fixture.Scope();
        var outbox = scope.ServiceProvider.GetRequiredService<IOutbox>();
        var dead = (await outbox.FindAsync(id, default))!;
        Assert.Equal(OutboxStatus.Dead, dead.Status);
        Assert.Equal("Forbidden.AccessDenied.AccessTokenPermissionDenied", dead.LastErrorCode);
        Assert.Equal(["Card.Instance.Write", "Card.Streaming.Write"], dead.RequiredScopes);
        Assert.Equal(["Card.Instance.Write", "Card.Streaming.Write"], Assert.Single(await outbox.UnsentForCardAsync(card, default)).RequiredScopes);
    }

    [SkippableFact]
    public async Task A_dead_letter_given_up_on_a_timeout_does_not_keep_an_earlier_attempts_required_scopes()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        var clock = new FakeTimeProvider(T0);
        var api = new CardApi(card)
        {
            // Whatever DingTalk answered the first attempt with, a retried failure naming scopes, the dead letter must
            // show the failure it was given up on: a timeout, which names none.
            Answer = (_, call, _) => call == 1
                ? throw new DingTalkApiException(HttpStatusCode.ServiceUnavailable, "system.busy", "busy", null, ["Card.Instance.Write"])
                : throw new Polly.Timeout.TimeoutRejectedException("The operation didn't complete within the allowed timeout of '00:01:00'."),
        };
        var dispatcher = Dispatcher(api, clock);
        var id = await QueueAsync(Update(card, ("total", 1)));
        await dispatcher.RunOnceAsync(default); // retried, its last error naming the scope
        Assert.Equal(["Card.Instance.Write"], (await EntryAsync(id)).RequiredScopes);

        clock.Advance(Options.GiveUpAfter);
        await dispatcher.RunOnceAsync(default); // timed out, past GiveUpAfter: dead-lettered

        var dead = await EntryAsync(id);
        Assert.Equal(OutboxStatus.Dead, dead.Status);
        Assert.Contains("TimeoutRejectedException", dead.LastError, StringComparison.Ordinal);
        Assert.Null(dead.LastErrorCode);
        Assert.Null(dead.RequiredScopes);
    }

    [SkippableFact]
    public async Task Giving_up_on_an_old_update_dead_letters_only_the_entries_past_GiveUpAfter_and_retries_the_newer_ones()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        var giveUpAfter = Options.GiveUpAfter;
        var old = await QueueAsync(Update(card, ("status", "approved")));
        var recent = await QueueAsync(Update(card, ("comment", "see ticket")));
        await using (var connection = await fixture.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default))
        {
            // The first waited out a DingTalk outage for a day; the second was queued an hour ago.
            await connection.ExecuteAsync("UPDATE outbox SET created_at = @at WHERE id = @old", new { old, at = (T0 - giveUpAfter - TimeSpan.FromMinutes(1)).ToUnixTimeMilliseconds() });
        }

        var clock = new FakeTimeProvider(T0);
        var api = BusyApi(card);
        var dispatcher = Dispatcher(api, clock);
        await dispatcher.RunOnceAsync(default); // both folded into one call, still refused

        Assert.Equal(["Dead", "Pending"], await StatusesAsync(card));

        clock.Advance(TimeSpan.FromSeconds(2)); // DingTalk is back before the newer entry's day is up
        api.Answer = null;
        await dispatcher.RunOnceAsync(default);

        Assert.Equal(["Dead", "Sent"], await StatusesAsync(card));
        Assert.Equal(["comment"], api.Updates.Single().CardData!.CardParamMap.Keys);
    }

    [SkippableFact]
    public async Task Updates_of_an_advanced_and_a_robot_card_sharing_an_id_each_reach_their_own_API()
    {
        SkipWithoutDatabase();
        // DingTalk keeps outTrackIds and cardBizIds apart: another system's advanced card and robot card may share an id
        // the gateway has no row for, and an operator may update both (PUT /api/cards/…, PUT /api/robot-cards/…).
        var card = NewCardId();
        await QueueAsync(Update(card, ("status", "approved")));
        await QueueAsync(new PendingCardUpdate(card, CardKind.Robot, Values(("header", new { title = new { type = "text", text = "Deployed" } })), null));
        var api = new CardApi(card);
        var robot = new RobotApi();
        var dispatcher = Dispatcher(api, new FakeTimeProvider(T0), robot);

        await SendAllDueAsync(dispatcher);

        Assert.Equal(["status"], Assert.Single(api.Updates).CardData!.CardParamMap.Keys);
        Assert.Contains("Deployed", Assert.Single(robot.Updates, u => u.CardBizId == card).CardData, StringComparison.Ordinal);
        Assert.Equal(["Sent", "Sent"], await StatusesAsync(card));
    }

    [SkippableFact]
    public async Task A_resend_sends_the_whole_stored_card_and_once_delivered_resolves_the_dead_letters_before_it_only()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        var denied = new DingTalkApiException(HttpStatusCode.Forbidden, "Forbidden.AccessDenied.AccessTokenPermissionDenied", "no permission", null, ["Card.Instance.Write"]);
        var api = new CardApi(card) { Answer = (_, _, _) => throw denied };
        var dispatcher = Dispatcher(api, new FakeTimeProvider(T0));
        var lost = await QueueAsync(new PendingCardUpdate(card, CardKind.Advanced, Values(("title", "Approved")), Private(("u1", ("note", "yours")), ("u2", ("role", "viewer")))));
        await SendAllDueAsync(dispatcher); // refused for good: dead-lettered
        api.Answer = null;
        var later = await QueueAsync(Vote(card, 2, "u1", "lunch"));
        await SendAllDueAsync(dispatcher);
        var otherKind = await QueueRobotUpdateDeadLetteredAsync(card); // a robot card under the same id: another API's

        var resend = await QueueResendAsync(card, CardKind.Advanced);
        await SendAllDueAsync(dispatcher);

        var sent = api.Updates.Last();
        Assert.Equal(new Dictionary<string, string> { ["title"] = "Approved", ["total"] = "2" }, sent.CardData!.CardParamMap);
        Assert.Equal(["u1", "u2"], sent.PrivateData!.Keys.Order());
        Assert.Equal(new Dictionary<string, string> { ["note"] = "yours", ["vote"] = "lunch" }, sent.PrivateData["u1"].CardParamMap);
        Assert.True(sent.CardUpdateOptions!.UpdateCardDataByKey && sent.CardUpdateOptions.UpdatePrivateDataByKey); // merged: a clicker's own values stay
        var resolved = await EntryAsync(lost);
        Assert.Equal((OutboxStatus.Resolved, resend), (resolved.Status, resolved.ResolvedBy));
        Assert.NotNull(resolved.ResolvedAt);
        Assert.Equal(OutboxStatus.Sent, (await EntryAsync(later)).Status);
        Assert.Equal(OutboxStatus.Dead, (await EntryAsync(otherKind)).Status);
        Assert.Equal(OutboxStatus.Sent, (await EntryAsync(resend)).Status);

        // A dead letter after the resend is not its to resolve.
        api.Answer = (_, _, _) => throw denied;
        var after = await QueueAsync(Update(card, ("title", "Reopened")));
        await SendAllDueAsync(dispatcher);
        Assert.Equal(OutboxStatus.Dead, (await EntryAsync(after)).Status);
        await using var scope = Fixture.Scope();
        Assert.Equal([otherKind, after], (await scope.ServiceProvider.GetRequiredService<IOutbox>().UnsentForCardAsync(card, default)).Select(e => e.Id));
    }

    [SkippableFact]
    public async Task A_resend_of_a_robot_card_sends_its_StandardCard_and_every_users_whole_private_data()
    {
        SkipWithoutDatabase();
        var card = await SavedRobotCardAsync(
            """{"header":{"title":{"type":"text","text":"Lunch?"}},"contents":[]}""",
            new Dictionary<string, IReadOnlyDictionary<string, string>>
            {
                ["r1"] = new Dictionary<string, string> { ["vote"] = "lunch", ["comment"] = "no onions" },
                ["r2"] = new Dictionary<string, string> { ["vote"] = "dinner" },
            });
        var robot = new RobotApi();

        await QueueResendAsync(card, CardKind.Robot);
        await SendAllDueAsync(Dispatcher(new CardApi(card), new FakeTimeProvider(T0), robot));

        var sent = Assert.Single(robot.Updates, u => u.CardBizId == card);
        Assert.Equal(["contents", "header"], JsonDocument.Parse(sent.CardData).RootElement.EnumerateObject().Select(p => p.Name).Order());
        var users = JsonSerializer.Deserialize<Dictionary<string, Dictionary<string, string>>>(sent.UserIdPrivateDataMap!)!;
        Assert.Equal(new Dictionary<string, string> { ["vote"] = "lunch", ["comment"] = "no onions" }, users["r1"]);
        Assert.Equal(new Dictionary<string, string> { ["vote"] = "dinner" }, users["r2"]);
    }

    [SkippableFact]
    public async Task A_resend_that_is_refused_or_finds_no_stored_card_resolves_nothing()
    {
        SkipWithoutDatabase();
        var card = await SavedCardAsync();
        var api = new CardApi(card) { Answer = (_, _, _) => throw new DingTalkApiException(HttpStatusCode.Forbidden, "Forbidden.AccessDenied.AccessTokenPermissionDenied", "no permission", null) };
        var dispatcher = Dispatcher(api, new FakeTimeProvider(T0));
        var lost = await QueueAsync(Update(card, ("title", "Approved")));
        await SendAllDueAsync(dispatcher);
        var resend = await QueueResendAsync(card, CardKind.Advanced);
        await SendAllDueAsync(dispatcher); // still no permission

        Assert.Equal((OutboxStatus.Dead, OutboxStatus.Dead), ((await EntryAsync(lost)).Status, (await EntryAsync(resend)).Status));

        // Another system's card: no stored state to send, so what the dead letters held never went out.
        var foreign = NewCardId();
        var foreignApi = new CardApi(foreign) { Answer = (_, call, _) => call == 1 ? throw new DingTalkApiException(HttpStatusCode.BadRequest, DingTalkErrors.CardNotExists, "no card", null) : Task.CompletedTask };
        var foreignDispatcher = Dispatcher(foreignApi, new FakeTimeProvider(T0));
        var foreignLost = await QueueAsync(Update(foreign, ("title", "Approved")));
        await SendAllDueAsync(foreignDispatcher);
        await QueueResendAsync(foreign, CardKind.Advanced);
        await SendAllDueAsync(foreignDispatcher);

        Assert.Equal(OutboxStatus.Dead, (await EntryAsync(foreignLost)).Status);
    }

    protected void SkipWithoutDatabase() => Skip.IfNot(fixture.Available, fixture.SkipReason);

    /// <summary>The outbox options the fixture's gateway runs with.</summary>
    protected OutboxOptions Options => fixture.Services.GetRequiredService<IOptionsMonitor<OutboxOptions>>().CurrentValue;

    /// <summary>Outbox entry <paramref name="id"/> as stored now.</summary>
    protected async Task<OutboxEntry> EntryAsync(long id)
    {
        await using var scope = fixture.Scope();
        return (await scope.ServiceProvider.GetRequiredService<IOutbox>().FindAsync(id, default))!;
    }

    /// <summary>Sends what earlier tests left pending and due, so a pass's "sent nothing" is about this test's card.</summary>
    protected async Task DrainOtherTestsEntriesAsync()
    {
        var drain = Dispatcher(new CardApi("(none)"), new FakeTimeProvider(T0));
        await SendAllDueAsync(drain);
    }

    /// <summary>DingTalk's card API for <paramref name="card"/> while DingTalk is <see cref="Busy"/>: a test clears <see cref="CardApi.Answer"/> to have it back.</summary>
    private static CardApi BusyApi(string card) => new(card) { Answer = (_, _, _) => throw Busy() };

    /// <summary>DingTalk busy (503 <c>system.busy</c>): a failure the dispatcher retries.</summary>
    private static DingTalkApiException Busy() => new(HttpStatusCode.ServiceUnavailable, "system.busy", "busy", null);

    protected static string NewCardId() => $"card-{Guid.NewGuid():N}";

    protected static PendingCardUpdate Update(string card, params (string Key, object Value)[] values) =>
        new(card, CardKind.Advanced, Values(values), null);

    protected static Dictionary<string, JsonElement> Values(params (string Key, object Value)[] values) =>
        values.ToDictionary(v => v.Key, v => JsonSerializer.SerializeToElement(v.Value));

    /// <summary>Private values: each user's one key and value.</summary>
    protected static Dictionary<string, IReadOnlyDictionary<string, JsonElement>> Private(params (string User, (string Key, object Value) Value)[] users) =>
        users.ToDictionary(u => u.User, u => (IReadOnlyDictionary<string, JsonElement>)Values(u.Value));

    /// <summary>A poll's update after a vote: the new total for everyone, and the voter's own vote as their private value.</summary>
    protected static PendingCardUpdate Vote(string card, int total, string user, string vote) =>
        new(card, CardKind.Advanced, Values(("total", total)), Private((user, ("vote", vote))));

    /// <summary>A replica's dispatcher; with its own <paramref name="signal"/>, another process's (the fixture's is shared).</summary>
    protected OutboxDispatcher Dispatcher(CardApi api, TimeProvider clock, RobotApi? robot = null, OutboxSignal? signal = null)
    {
        var sender = new CardSender(api, robot ?? new RobotApi(), fixture.Services.GetRequiredService<IOptionsMonitor<DingTalkOptions>>(), fixture.Services.GetRequiredService<IOptions<DingTalkOptions>>(), NullLogger<CardSender>.Instance);
        return signal is null
            ? ActivatorUtilities.CreateInstance<OutboxDispatcher>(fixture.Services, sender, clock, NullLogger<OutboxDispatcher>.Instance)
            : ActivatorUtilities.CreateInstance<OutboxDispatcher>(fixture.Services, sender, clock, NullLogger<OutboxDispatcher>.Instance, signal);
    }

    /// <summary>A card the gateway created: stored, with a row to lock.</summary>
    protected async Task<string> SavedCardAsync()
    {
        var card = NewCardId();
        await using var scope = fixture.Scope();
        await scope.ServiceProvider.GetRequiredService<ICardStore>().SaveAsync(
            new CardRecord { Id = card, Kind = CardKind.Advanced, TemplateId = "tpl", Version = 1, CreatedAt = T0, UpdatedAt = T0 }, default);
        return card;
    }

    /// <summary>A stored robot card: its StandardCard JSON, and each user's private data if any.</summary>
    private async Task<string> SavedRobotCardAsync(string cardData, Dictionary<string, IReadOnlyDictionary<string, string>>? privateData = null)
    {
        var card = NewCardId();
        await using var scope = fixture.Scope();
        await scope.ServiceProvider.GetRequiredService<ICardStore>().SaveAsync(
            new CardRecord
            {
                Id = card,
                Kind = CardKind.Robot,
                TemplateId = "StandardCard",
                PublicData = new Dictionary<string, string> { [CardUpdates.RobotCardDataKey] = cardData },
                PrivateData = privateData ?? [],
                Version = 1,
                CreatedAt = T0,
                UpdatedAt = T0,
            },
            default);
        return card;
    }

    /// <summary>Refreshes queued as a replica that lost the cards' leases queues them: entries of their own, no stored card changed.</summary>
    private async Task QueueRefreshesAsync(params PendingCardUpdate[] refreshes)
    {
        await using var scope = fixture.Scope();
        var outbox = scope.ServiceProvider.GetRequiredService<IOutbox>();
        foreach (var refresh in refreshes)
        {
            await outbox.EnqueueAsync(refresh, afterAnswer: false, default);
        }
    }

    /// <summary>A resend of the card's whole stored state, queued as <c>POST /api/cards/{id}/resend</c> queues it.</summary>
    private async Task<long> QueueResendAsync(string card, CardKind kind)
    {
        await using var scope = fixture.Scope();
        return await scope.ServiceProvider.GetRequiredService<IOutbox>().EnqueueAsync(PendingCardUpdate.ResendOf(card, kind), afterAnswer: false, default);
    }

    /// <summary>A robot card's update under <paramref name="card"/>'s id, dead-lettered (as DingTalk's robot API refusing it would).</summary>
    private async Task<long> QueueRobotUpdateDeadLetteredAsync(string card)
    {
        long id;
        await using (var scope = fixture.Scope())
        {
            id = await scope.ServiceProvider.GetRequiredService<IOutbox>().EnqueueAsync(
                new PendingCardUpdate(card, CardKind.Robot, Values(("header", "h")), null), afterAnswer: false, default);
        }

        await using var connection = await fixture.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default);
        await connection.ExecuteAsync("UPDATE outbox SET status = 'Dead' WHERE id = @id", new { id });
        return id;
    }

    /// <summary>An update queued as an operator's PUT queues it: the stored card and the outbox entry in one transaction.</summary>
    protected async Task<long> QueueAsync(PendingCardUpdate update)
    {
        await using var scope = fixture.Scope();
        var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
        await session.BeginAsync(default);
        var id = await scope.ServiceProvider.GetRequiredService<CardUpdates>().QueueAsync(update, afterAnswer: false, default);
        await session.CommitAsync(default);
        return id;
    }

    /// <summary>A handler's update for everyone, queued as a click's transaction queues it: due once its answer has left.</summary>
    private async Task QueueAfterAnswerAsync(PendingCardUpdate update)
    {
        await using var scope = fixture.Scope();
        var session = scope.ServiceProvider.GetRequiredService<StorageSession>();
        await session.BeginAsync(default);
        await scope.ServiceProvider.GetRequiredService<CardUpdates>().QueueAsync(update, afterAnswer: true, default);
        await session.CommitAsync(default);
    }

    /// <summary>The card's outbox entries' ids, oldest first.</summary>
    protected async Task<List<long>> EntriesOfAsync(string card)
    {
        await using var connection = await fixture.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default);
        return (await connection.QueryAsync<long>("SELECT id FROM outbox WHERE card_id = @card ORDER BY id", new { card })).AsList();
    }

    /// <summary>Runs passes of <paramref name="dispatcher"/> until one finds nothing due.</summary>
    private static async Task SendAllDueAsync(OutboxDispatcher dispatcher)
    {
        while (await dispatcher.RunOnceAsync(default))
        {
        }
    }

    /// <summary>
    /// A saved card that replicas race to send, and DingTalk's card API, which shows each update it takes
    /// (<see cref="WireRace.Shown"/>). Its first call is replica A's attempt, played by <paramref name="firstAttempt"/>:
    /// it calls the action it is given once the attempt is on its way (<see cref="WireRace.Sending"/> completes, and
    /// <see cref="WireRace.OnTheWire"/> is the update), and holds the attempt for as long as it then waits.
    /// </summary>
    private async Task<WireRace> WireRaceAsync(Func<Action, CancellationToken, Task> firstAttempt)
    {
        var race = new WireRace(await SavedCardAsync(), new FakeTimeProvider(T0));
        race.Api = new CardApi(race.Card)
        {
            Answer = async (request, call, cancellationToken) =>
            {
                if (call == 1)
                {
                    await firstAttempt(() => race.OnItsWay(request), cancellationToken);
                }

                Show(race.Shown, request);
            },
        };
        return race;
    }

    /// <summary>
    /// Once an attempt on the wire has had its time (when the refresh a replica that lost the card queued is due), the
    /// card's owner sends it: DingTalk shows the latest total and the voter's latest vote again, and nothing is left to send.
    /// </summary>
    private async Task RefreshedAsync(WireRace race, OutboxDispatcher owner)
    {
        race.Clock.Advance(AttemptTimeout);
        await SendAllDueAsync(owner);

        Assert.Equal(("2", "dinner"), race.Showing);
        Assert.All(await StatusesAsync(race.Card), status => Assert.Equal("Sent", status));
    }

    /// <summary>
    /// Replica A's pass sends the voter's vote for lunch (total 1); while that is on the wire (<see cref="WireRace.Sending"/>),
    /// the voter changes their vote to dinner (total 2) and another replica takes the card over. Returns A's pass.
    /// </summary>
    private async Task<Task<bool>> VoteChangedWhileReplicaASendsAsync(WireRace race)
    {
        await QueueAsync(Vote(race.Card, total: 1, "u1", "lunch"));
        var pass = Dispatcher(race.Api, race.Clock).RunOnceAsync(default);
        await race.Sending.WaitAsync(TimeSpan.FromSeconds(10));
        await QueueAsync(Vote(race.Card, total: 2, "u1", "dinner"));
        await TakeOverAsync(race.Card, race.Clock, pass);
        return pass;
    }

    /// <summary>Replica B, the card's owner once the replica that took it over lets go, sends the changed total and vote.</summary>
    private async Task<OutboxDispatcher> ReplicaBSendsTheChangedVoteAsync(WireRace race)
    {
        await ReleaseLeaseAsync(race.Card);
        var replicaB = Dispatcher(race.Api, race.Clock);
        Assert.True(await replicaB.RunOnceAsync(default));
        Assert.Equal(("2", "dinner"), race.Showing);
        return replicaB;
    }

    /// <summary>
    /// Another replica takes <paramref name="card"/> over while <paramref name="pass"/> sends it; the clock goes on to the
    /// next renewal, which finds it gone: in small steps, since under load the renewal may not have started its wait yet (a
    /// timer started after one big step would never fire). Well within the lease, so it is the renewal that finds the card
    /// taken, not the lease running out.
    /// </summary>
    private async Task TakeOverAsync(string card, FakeTimeProvider clock, Task pass)
    {
        await StorageSession.ExecuteAsync(
            fixture.Services.GetRequiredService<GatewayDatabase>(),
            fixture.Services.GetRequiredService<SqliteWriteBatcher>(),
            "UPDATE outbox_leases SET owner = 'another-replica' WHERE card_id = @card",
            new { card },
            default);
        var step = Options.LeaseDuration / 30;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!pass.IsCompleted && DateTime.UtcNow < deadline && clock.GetUtcNow() < T0 + (step * 25))
        {
            clock.Advance(step);
            await Task.WhenAny(pass, Task.Delay(20));
        }
    }

    /// <summary>The card's lease let go of by the replica that took it over (as when it is done with the card).</summary>
    private async Task ReleaseLeaseAsync(string card) =>
        await StorageSession.ExecuteAsync(
            fixture.Services.GetRequiredService<GatewayDatabase>(),
            fixture.Services.GetRequiredService<SqliteWriteBatcher>(),
            "DELETE FROM outbox_leases WHERE card_id = @card",
            new { card },
            default);

    /// <summary>How long the gateway gives an attempt on the wire (<c>DingTalk:Outbound:AttemptTimeout</c>).</summary>
    private TimeSpan AttemptTimeout => fixture.Services.GetRequiredService<IOptionsMonitor<DingTalkOptions>>().CurrentValue.Outbound.AttemptTimeout;

    /// <summary>What DingTalk does with an update it takes: its keys merged into what the card shows, a user's private keys as <c>user/key</c>.</summary>
    private static void Show(ConcurrentDictionary<string, string> shown, UpdateCardRequest request)
    {
        foreach (var (key, value) in request.CardData?.CardParamMap ?? new Dictionary<string, string>())
        {
            shown[key] = value;
        }

        foreach (var (user, data) in request.PrivateData ?? new Dictionary<string, CardData>())
        {
            foreach (var (key, value) in data.CardParamMap)
            {
                shown[user + "/" + key] = value;
            }
        }
    }

    /// <summary>The card's outbox entries' statuses, oldest first.</summary>
    protected async Task<List<string>> StatusesAsync(string card)
    {
        await using var connection = await fixture.Services.GetRequiredService<GatewayDatabase>().OpenAsync(default);
        return (await connection.QueryAsync<string>("SELECT status FROM outbox WHERE card_id = @card ORDER BY id", new { card })).AsList();
    }

    /// <summary>The card replicas race to send (<see cref="WireRaceAsync"/>), and what DingTalk shows of it.</summary>
    private sealed class WireRace(string card, FakeTimeProvider clock)
    {
        private readonly TaskCompletionSource _sending = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Card => card;

        /// <summary>The dispatchers' clock.</summary>
        public FakeTimeProvider Clock => clock;

        public CardApi Api { get; set; } = null!;

        /// <summary>The card at DingTalk: updates merged as they land.</summary>
        public ConcurrentDictionary<string, string> Shown { get; } = new(StringComparer.Ordinal);

        /// <summary>The total and the voter's (u1's) vote the card shows.</summary>
        public (string Total, string Vote) Showing => (Shown["total"], Shown["u1/vote"]);

        /// <summary>Completes once replica A's attempt is on its way to DingTalk.</summary>
        public Task Sending => _sending.Task;

        /// <summary>Replica A's attempt, once on its way.</summary>
        public UpdateCardRequest? OnTheWire { get; private set; }

        public void OnItsWay(UpdateCardRequest request)
        {
            OnTheWire = request;
            _sending.SetResult();
        }

        /// <summary>Replica A's attempt reaches DingTalk now.</summary>
        public void AttemptLands() => Show(Shown, OnTheWire!);
    }

    /// <summary>
    /// DingTalk's card API for one test's card: takes its updates unless <see cref="Answer"/> says otherwise, and
    /// records them. Other cards' updates (earlier tests' entries, still pending in the shared database) are taken
    /// silently, so they neither count here nor stay pending.
    /// </summary>
    protected sealed class CardApi(string card) : IDingTalkCardApi
    {
        private int _calls;

        public ConcurrentQueue<UpdateCardRequest> Updates { get; } = new();

        /// <summary>Runs on each update of the card before it is taken (the call number, from 1); throwing refuses it.</summary>
        public Func<UpdateCardRequest, int, CancellationToken, Task>? Answer { get; set; }

        public int Calls => Volatile.Read(ref _calls);

        public async Task<BooleanResultResponse> UpdateAsync(UpdateCardRequest request, CancellationToken cancellationToken)
        {
            if (request.OutTrackId != card)
            {
                return new BooleanResultResponse(true, true);
            }

            var call = Interlocked.Increment(ref _calls);
            if (Answer is { } answer)
            {
                await answer(request, call, cancellationToken);
            }

            Updates.Enqueue(request);
            return new BooleanResultResponse(true, true);
        }

        public Task<CreateAndDeliverResponse> CreateAndDeliverAsync(CreateAndDeliverRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<CreateCardResponse> CreateAsync(CreateCardRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<DeliverCardResponse> DeliverAsync(DeliverCardRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<BooleanResultResponse> StreamingUpdateAsync(StreamingUpdateRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<RegisterCallbackResponse> RegisterCallbackAsync(RegisterCallbackRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();
    }

    /// <summary>DingTalk's robot-card API: takes every update and records it.</summary>
    protected sealed class RobotApi : IDingTalkRobotApi
    {
        public ConcurrentQueue<UpdateRobotInteractiveCardRequest> Updates { get; } = new();

        public Task<RobotCardResponse> SendInteractiveCardAsync(SendRobotInteractiveCardRequest request, SendOnce sendOnce, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<RobotCardResponse> UpdateInteractiveCardAsync(UpdateRobotInteractiveCardRequest request, CancellationToken cancellationToken)
        {
            Updates.Enqueue(request);
            return Task.FromResult(new RobotCardResponse("query-key"));
        }
    }
}
