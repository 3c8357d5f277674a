using System.Globalization;
using System.Text.Json;
using Dapper;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Delivers the outbox. A replica takes a card by leasing it (a conditional upsert, so two replicas never send the
/// same card's updates), folds the card's pending entries into one call in id order (later keys win), sends it,
/// and marks them sent — or schedules a retry with capped exponential backoff, or dead-letters them when DingTalk
/// refuses for good or <see cref="OutboxOptions.GiveUpAfter"/> has passed. A crash after sending and before marking
/// sends again after the lease expires: delivery is at least once. A replica that finds it lost the lease while sending
/// queues a refresh of the card (<see cref="PendingCardUpdate.Refresh"/>), since its older update may land last.
/// </summary>
public sealed partial class OutboxDispatcher(
    GatewayDatabase database,
    SqliteWriteBatcher batcher,
    CardSender sender,
    OutboxSignal signal,
    IOptionsMonitor<OutboxOptions> options,
    IOptionsMonitor<DingTalkOptions> dingTalk,
    GatewayMetrics metrics,
    TimeProvider clock,
    ILogger<OutboxDispatcher> logger,
    StopReport? stopReport = null,
    DatabaseBack? databaseBack = null) : BackgroundService
{
    /// <summary>Entries one write marks: a turn of the SQLite writer of well under a millisecond.</summary>
    private const int RowsPerWrite = 64;

    private readonly string _owner = LeaseRenewal.NewOwner();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Counted on their own loop: a pass can wait a long time on a DingTalk that is down, which is when the count matters.
        var counting = PendingAndDeadCount.LoopAsync(CountAsync, () => options.CurrentValue.CountInterval, clock, stoppingToken);
        await DispatchLoopAsync(stoppingToken);
        await counting;
    }

    /// <summary>The undelivered entries, counted for the <c>cardgateway.outbox.entries</c> gauge.</summary>
    public async Task CountAsync(CancellationToken cancellationToken)
    {
        var (pending, dead) = await PendingAndDeadCount.QueryAsync(batcher, "outbox", cancellationToken);
        metrics.OutboxCounted(pending, dead);
    }

    private async Task DispatchLoopAsync(CancellationToken stoppingToken)
    {
        var failing = new RepeatedFailure();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var worked = await RunOnceAsync(stoppingToken);
                databaseBack?.Answered(); // polled even when idle: often the first to find the database back after an outage
                if (failing.Ended() is > 0 and var failed)
                {
                    Log.DispatchBack(logger, failed);
                }

                if (!worked)
                {
                    await signal.WaitAsync(options.CurrentValue.PollInterval, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The database is away or refuses to write: said once, tried again; nothing is lost, the entries stay pending.
                if (failing.Failed())
                {
                    Log.DispatchFailed(logger, RepeatedFailure.StackWorthLogging(ex), SchemaMigrator.Describe(ex), (long)options.CurrentValue.RetryBaseDelay.TotalMilliseconds);
                }

                database.Writes.Failed(ex); // a database that answers and refuses (readiness says it)

                await Task.Delay(options.CurrentValue.RetryBaseDelay, clock, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>One pass over the cards with due entries; true when any card was sent to (or its send failed).</summary>
    /// <remarks>
    /// A card is due when its oldest pending entry is: the entries after it wait for it (in order per card), so a card
    /// backing off is not listed because a newer entry of it is due — it would take a place in the pass, send nothing,
    /// and, counted as work, make the loop run again at once until the backoff ended.
    /// </remarks>
    public async Task<bool> RunOnceAsync(CancellationToken cancellationToken)
    {
        var released = signal.TakeReleased();
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var cards = await batcher.QueryBesideAsync<string>(
            """
            SELECT o.card_id FROM outbox o
            WHERE o.status = 'Pending' AND o.available_at <= @now
              AND o.id = (SELECT MIN(p.id) FROM outbox p WHERE p.status = 'Pending' AND p.card_id = o.card_id)
            ORDER BY o.id LIMIT 64
            """,
            new { now },
            cancellationToken);

        // Cards whose callback answer has just left go now, without waiting out AnswerFirstDelay.
        cards.AddRange(released.Where(card => !cards.Contains(card)));

        if (cards.Count == 0)
        {
            return false;
        }

        var releasedCards = released.ToHashSet(StringComparer.Ordinal);
        var sentTo = 0;
        await Parallel.ForEachAsync(
            cards,
            new ParallelOptions { MaxDegreeOfParallelism = options.CurrentValue.Concurrency, CancellationToken = cancellationToken },
            async (card, ct) =>
            {
                var answerSent = releasedCards.Contains(card);
                switch (await DeliverCardAsync(card, answerSent, ct))
                {
                    case Delivery.Sent:
                        Interlocked.Increment(ref sentTo);
                        break;
                    case Delivery.LeasedElsewhere when answerSent:
                        // Another replica is sending the card, folded before this answer's update committed maybe: the card
                        // stays released for the next pass, so the update goes once that send ends, as it would after this
                        // replica's own send — not after AnswerFirstDelay, as if its answer had never left.
                        signal.KeepReleased(card);
                        break;
                }
            });
        return sentTo > 0;
    }

    /// <summary>What a pass did with a card it looked at.</summary>
    private enum Delivery
    {
        /// <summary>Nothing of the card was due.</summary>
        NothingDue,

        /// <summary>Sent, or tried to.</summary>
        Sent,

        /// <summary>Another replica holds the card's lease (or, its send ended without letting go, this one's earlier pass).</summary>
        LeasedElsewhere,
    }

    /// <summary>Sends the card's due entries if this replica can lease it.</summary>
    private async Task<Delivery> DeliverCardAsync(string cardId, bool answerSent, CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        if (await TryLeaseAsync(cardId, o, cancellationToken) is not { } heldUntil)
        {
            return Delivery.LeasedElsewhere;
        }

        // The send stops when the lease is lost (another replica may be sending the card's newer entries by then), or
        // when the dispatcher stops; and no attempt of it goes out on a lease this process has not renewed in time.
        using var leased = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var renewal = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var fence = new LeaseFence(clock, o.LeaseDuration, heldUntil, leased);
        var renewing = RenewLeaseAsync(cardId, o, leased, fence, renewal.Token);
        try
        {
            if (await FoldDueAsync(cardId, answerSent, clock.GetUtcNow(), cancellationToken) is not { } due)
            {
                return Delivery.NothingDue;
            }

            var (update, folded, first, confirmedWhenSent, resend) = due;
            try
            {
                await LeaseFence.RunAsync(fence, () => sender.DeliverAsync(update, leased.Token));
            }
            catch (Exception) when (leased.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // However the send ended once the card was taken over — cancelled, or with the failure of the attempt under
                // way (an HTTP retry told to stop reports that attempt's outcome): DingTalk may have it, the new owner sends
                // it (again), and nothing here is the dispatch loop's to report as the database failing.
                Log.LeaseLostWhileSending(logger, cardId, folded.Count);
                await QueueRefreshAsync(update);
                return Delivery.Sent;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // A card taken over just after the filter above: FailAsync's writes find the lease gone and mark nothing.
                await FailAsync(cardId, update.Kind, folded, first, confirmedWhenSent, ex, o, cancellationToken);
                return Delivery.Sent;
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested && fence.Attempted)
            {
                // The gateway is stopping: the send is cut off and the card let go of below, so another replica takes it at
                // once — while an attempt of this one may still be on its way to DingTalk, to land after that replica's newer
                // send. As after a lost lease, a refresh of the card follows it. (Stopped before any attempt left — in the
                // rate limiter's queue, say — nothing can land late: no refresh holds the card's next updates back.)
                Log.StoppedWhileSending(logger, cardId, folded.Count);
                stopReport?.SendCutOff(folded.Count);
                await QueueRefreshAsync(update);
                throw;
            }

            // Only once DingTalk has the update, and outside the send's try: a database error here is the dispatch loop's
            // (the entries stay pending and are sent again, at least once), never a failed send to dead-letter. A resend's
            // dead letters are resolved before it is marked sent, so whoever sees it sent (its 204) finds them resolved;
            // DingTalk has the stored card either way, even if the mark then finds the lease lost.
            if (resend is { } resendId)
            {
                await ResolveDeadLettersAsync(cardId, update.Kind, resendId);
            }

            if (!await MarkAsync(folded, "Sent", null, null, null, cancellationToken))
            {
                Log.LeaseLostWhileSending(logger, cardId, folded.Count);
                await QueueRefreshAsync(update);
                return Delivery.Sent;
            }

            Log.Delivered(logger, cardId, folded.Count, first.Attempts);
            metrics.Sent(update.Kind, "delivered", clock.GetUtcNow() - DateTimeOffset.FromUnixTimeMilliseconds(first.CreatedAt));
            return Delivery.Sent;
        }
        finally
        {
            await renewal.CancelAsync();
            await renewing;
            await WriteAsync("DELETE FROM outbox_leases WHERE card_id = @cardId AND owner = @owner", new { cardId, owner = _owner }, CancellationToken.None);
        }
    }

    /// <summary>
    /// The card's pending entries folded into one update, or null when none is due. Its own method so the entries
    /// (hundreds, on a busy card) are garbage before the send, which can wait on DingTalk's rate limit for a while:
    /// held across it, they outlived two collections and every few seconds cost a full one.
    /// </summary>
    /// <remarks>
    /// With them, in the same read, whether DingTalk had confirmed the card's creation before the update leaves
    /// (<see cref="NotCreatedYetAsync"/>). <c>Resend</c>: the id of the last resend folded in
    /// (<see cref="PendingCardUpdate.Resend"/>) that found the card stored, whose delivery resolves the dead letters refused before it left.
    /// </remarks>
    private async Task<(PendingCardUpdate Update, Folded Folded, SqlOutbox.OutboxRow First, bool ConfirmedWhenSent, long? Resend)?> FoldDueAsync(
        string cardId, bool answerSent, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var entries = await batcher.QueryBesideAsync<SqlOutbox.OutboxRow>(
            $"""
            SELECT {SqlOutbox.Columns}, payload, available_at, (SELECT creation_confirmed FROM cards WHERE id = @cardId) AS card_creation_confirmed
            FROM outbox WHERE card_id = @cardId AND status = 'Pending' ORDER BY id
            """,
            new { cardId },
            cancellationToken);

        if (entries.Count == 0)
        {
            return null;
        }

        // An answer that has left lets a card's first try go before AnswerFirstDelay is out — never a retry before its
        // backoff is: during an outage every vote's answer would otherwise send the card again at once; nor a refresh
        // before its time, which lets a late attempt land first (QueueRefreshAsync).
        var nowMs = now.ToUnixTimeMilliseconds();
        var early = entries[0].AvailableAt > nowMs;
        if (early && !(answerSent && entries[0].Attempts == 0))
        {
            return null; // read no payload: a card waiting out its backoff is looked at on every pass
        }

        var update = SqlJson.Read<PendingCardUpdate>(entries[0].Payload);
        if (early && update.Refresh)
        {
            return null;
        }

        // Later keys win, so merges fold into one; a replacing update (an operator's) is sent on its own: folded with the
        // updates around it, it would take their private values with it, or replace private data they only merged into.
        // Nor do an advanced card's and a robot card's updates fold: DingTalk keeps their ids apart, so a card the gateway
        // has no row for may be both, and each kind's update must reach its own API. A refresh folds as the card's stored
        // public data and its users' stored private data, and waits for its time even behind a due entry.
        StoredCard? stored = null;
        long? resend = null;
        if (update.Refresh)
        {
            stored = await StoredAsync(cardId, update.Kind, cancellationToken);
            resend = update.Resend && stored.Found ? entries[0].Id : null;
            update = stored.Refreshed(update);
        }

        var ids = new List<long> { entries[0].Id };
        var createdAt = new List<long> { entries[0].CreatedAt };
        foreach (var entry in entries.Skip(1))
        {
            var later = SqlJson.Read<PendingCardUpdate>(entry.Payload);
            if (update.Replace || later.Replace || later.Kind != update.Kind || (later.Refresh && entry.AvailableAt > nowMs))
            {
                break;
            }

            if (later.Refresh)
            {
                stored ??= await StoredAsync(cardId, later.Kind, cancellationToken);
                resend = later.Resend && stored.Found ? entry.Id : resend;
                later = stored.Refreshed(later);
            }

            update = update.MergeWith(later);
            ids.Add(entry.Id);
            createdAt.Add(entry.CreatedAt);
        }

        // DingTalk shows only what a crash cannot take back: after the fold, so it covers the stored data a refresh read.
        await batcher.DurableAsync();
        return (update, new Folded(cardId, ids, createdAt), entries[0], entries[0].CardCreationConfirmed == 1, resend);
    }

    /// <summary>
    /// What a refresh of the card sends, as stored (every update merged): its public data, as an update's values — an
    /// advanced card's keys, a robot card's StandardCard JSON by top-level key (how DingTalk merges it) — and its private
    /// data, for the users a refresh names (<see cref="StoredCard.Refreshed"/>). Nothing when the card is not stored as
    /// this kind (another system's card, or the same id of the other kind).
    /// </summary>
    private async Task<StoredCard> StoredAsync(string cardId, CardKind kind, CancellationToken cancellationToken)
    {
        var rows = await batcher.QueryBesideAsync<(string Kind, string PublicData, string PrivateData)>(
            "SELECT kind, public_data, private_data FROM cards WHERE id = @cardId", new { cardId }, cancellationToken);
        if (rows.Count == 0 || rows[0].Kind != kind.ToString())
        {
            return new StoredCard(new Dictionary<string, JsonElement>(StringComparer.Ordinal), PrivateData: null, Found: false);
        }

        var publicData = SqlJson.Read<Dictionary<string, string>>(rows[0].PublicData);
        if (kind == CardKind.Advanced)
        {
            return new StoredCard(CardParamMapEncoder.AsValues(publicData), rows[0].PrivateData);
        }

        if (!publicData.TryGetValue(CardUpdates.RobotCardDataKey, out var card))
        {
            return new StoredCard(new Dictionary<string, JsonElement>(StringComparer.Ordinal), rows[0].PrivateData);
        }

        using var json = JsonDocument.Parse(card);
        return new StoredCard(CardUpdates.Properties(json.RootElement), rows[0].PrivateData);
    }

    /// <summary>
    /// A resend of the card's whole stored state (<paramref name="resendId"/>) reached DingTalk: the card's dead letters of
    /// its kind are resolved, since it carried the stored card as its fold read it, which every one of them had changed
    /// before it was sent (an entry is folded, and so dead-lettered, only once committed) — and each was dead-lettered
    /// before that fold, under the card's lease, which this send has held since. Newer ids too: on PostgreSQL the resend's
    /// entry takes its id without the card's lock, so an update may take a later id, commit first and be refused before
    /// the resend commits; its change was in the stored card all the same. Only while the lease is still this send's: once
    /// another replica has the card, it may have dead-lettered an entry this send did not carry, and marking the resend sent
    /// finds the lease gone too, so the resend stays pending, is sent again, and resolves them then. A dead letter of the
    /// other kind under the same id (another system's cards), or one given up on after the resend, stays dead. A crash
    /// before this write leaves them dead (and the resend pending: it is sent again, and resolves them then).
    /// </summary>
    private async Task ResolveDeadLettersAsync(string cardId, CardKind kind, long resendId)
    {
        var resolved = await WriteAsync(
            """
            UPDATE outbox SET status = 'Resolved', resolved_at = @now, resolved_by = @resendId
            WHERE card_id = @cardId AND kind = @kind AND status = 'Dead'
              AND EXISTS (SELECT 1 FROM outbox_leases WHERE card_id = @cardId AND owner = @owner)
            """,
            new { cardId, kind = kind.ToString(), resendId, owner = _owner, now = clock.GetUtcNow().ToUnixTimeMilliseconds() },
            CancellationToken.None);
        if (resolved > 0)
        {
            Log.DeadLettersResolved(logger, cardId, resolved, resendId);
        }
    }

    /// <summary>
    /// Queues a refresh of the card (<see cref="PendingCardUpdate.Refresh"/>) once this replica found it had lost the
    /// card's lease while sending: its send — cancelled, failed or taken — may reach DingTalk after the new owner's newer
    /// one, and then, with no later update, the card would show the older values for good. The refresh sends the stored
    /// data, the latest, <see cref="OutboundOptions.AttemptTimeout"/> from now: an attempt on the wire gets no longer than
    /// that from the gateway, so one still in flight (cut off, or an earlier attempt of a send that went through on a
    /// retry) lands before it, not after. The card's later entries wait behind it that long — only after a lost lease,
    /// which is rare. Any replica may send it; no lease is needed to queue it. It names the users whose private values
    /// <paramref name="lost"/> carried: those values may land late too, so it sends those users' stored private data.
    /// </summary>
    private Task<int> QueueRefreshAsync(PendingCardUpdate lost)
    {
        var (cardId, kind) = (lost.CardId, lost.Kind);
        var now = clock.GetUtcNow();
        return WriteAsync(
            """
            INSERT INTO outbox (card_id, kind, payload, status, attempts, created_at, available_at)
            VALUES (@cardId, @kind, @payload, 'Pending', 0, @now, @availableAt)
            """,
            new
            {
                cardId,
                kind = kind.ToString(),
                payload = SqlJson.Write(PendingCardUpdate.RefreshOf(cardId, kind, lost.PrivateData?.Keys)),
                now = now.ToUnixTimeMilliseconds(),
                availableAt = (now + dingTalk.CurrentValue.Outbound.AttemptTimeout).ToUnixTimeMilliseconds(),
            },
            CancellationToken.None);
    }

    /// <summary>
    /// Keeps the claim alive while a slow send (DingTalk retrying, throttling) is under way: a renewal that fails is
    /// tried again at the next turn while the lease still runs. Once another replica has taken the card over (or the
    /// lease ran out unrenewed), the send is cancelled through <paramref name="leased"/>, so a replica that lost the
    /// card stops sending entries the new owner may already have sent newer ones after.
    /// </summary>
    private Task RenewLeaseAsync(string cardId, OutboxOptions o, CancellationTokenSource leased, LeaseFence fence, CancellationToken cancellationToken) =>
        LeaseRenewal.KeepAsync(
            async token => await WriteAsync(
                "UPDATE outbox_leases SET until_at = @until WHERE card_id = @cardId AND owner = @owner",
                new { cardId, owner = _owner, until = (clock.GetUtcNow() + o.LeaseDuration).ToUnixTimeMilliseconds() },
                token) == 1,
            o.LeaseDuration,
            clock.GetUtcNow() + o.LeaseDuration,
            clock,
            ex => Log.LeaseRenewalFailed(logger, RepeatedFailure.StackWorthLogging(ex), cardId, SchemaMigrator.Describe(ex)),
            leased,
            cancellationToken,
            fence);

    /// <summary>The card's lease for this replica, if no other holds it: when it runs out, or null.</summary>
    private async Task<DateTimeOffset?> TryLeaseAsync(string cardId, OutboxOptions o, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var taken = await WriteAsync(
            """
            INSERT INTO outbox_leases (card_id, owner, until_at) VALUES (@cardId, @owner, @until)
            ON CONFLICT (card_id) DO UPDATE SET owner = excluded.owner, until_at = excluded.until_at
            WHERE outbox_leases.until_at < @now
            """,
            new { cardId, owner = _owner, until = (now + o.LeaseDuration).ToUnixTimeMilliseconds(), now = now.ToUnixTimeMilliseconds() },
            cancellationToken);
        return taken == 1 ? now + o.LeaseDuration : null;
    }

    private async Task FailAsync(
        string cardId,
        CardKind kind,
        Folded folded,
        SqlOutbox.OutboxRow first,
        bool confirmedWhenSent,
        Exception ex,
        OutboxOptions o,
        CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow(); // after the send: its own retries may have taken a while, and the backoff starts now
        var error = Describe(ex);
        var attempts = first.Attempts + 1;

        // A refusal for good gives up on every entry; a failure worth retrying only on those that have waited out
        // GiveUpAfter: an update queued a minute ago, folded with one queued a day ago, keeps its own retries and reaches
        // DingTalk if DingTalk comes back in time.
        var cutoff = IsTransient(ex) || await NotCreatedYetAsync(cardId, confirmedWhenSent, ex, cancellationToken)
            ? (now - o.GiveUpAfter).ToUnixTimeMilliseconds()
            : long.MaxValue;
        var givenUp = folded.QueuedWhere(createdAt => createdAt <= cutoff);
        if (givenUp.Count > 0)
        {
            await MarkAsync(givenUp, "Dead", error, ex as DingTalkApiException, attempts, cancellationToken);
            Log.DeadLettered(logger, cardId, givenUp.Count, attempts, error);
            if (ex is DingTalkApiException { RequiredScopes.Count: > 0 } denied)
            {
                Log.PermissionMissing(logger, cardId, string.Join(", ", denied.RequiredScopes));
            }
            metrics.Sent(kind, "dead_lettered");
        }

        folded = folded.QueuedWhere(createdAt => createdAt > cutoff);
        if (folded.Count == 0)
        {
            return;
        }

        var jittered = WaitBeforeRetry(ex, attempts, o);
        await UpdateFoldedAsync(
            folded,
            "attempts = @attempts, last_error = @error, last_error_status = @errorStatus, last_error_code = @errorCode, last_error_scopes = @errorScopes, available_at = @availableAt",
            new
            {
                attempts,
                error,
                errorStatus = (ex as DingTalkApiException)?.StatusCode is { } status ? (int)status : (int?)null,
                errorCode = (ex as DingTalkApiException)?.Code,
                errorScopes = SqlOutbox.OutboxRow.ScopesOf(ex),
                availableAt = (now + jittered).ToUnixTimeMilliseconds(),
            },
            cancellationToken);
        Log.WillRetry(logger, cardId, folded.Count, attempts, error, (long)jittered.TotalMilliseconds);
        metrics.Sent(kind, "retrying");
    }

    /// <summary>
    /// The backoff before the next attempt (<see cref="OutboxOptions.RetryDelay"/>), or what DingTalk's <c>Retry-After</c>
    /// asked when that is longer (at most <see cref="LongestRetryAfter"/>): the HTTP retries honour it between their attempts,
    /// and the outbox's next attempt must not come back sooner than DingTalk asked either.
    /// </summary>
    private static TimeSpan WaitBeforeRetry(Exception ex, int attempts, OutboxOptions o)
    {
        var backoff = o.RetryDelay(attempts);
        return ex is DingTalkApiException { RetryAfter: { } asked } && asked > backoff
            ? (asked < LongestRetryAfter ? asked : LongestRetryAfter)
            : backoff;
    }

    /// <summary>The longest <c>Retry-After</c> the outbox waits out; DingTalk's own (5 minutes for an IP it shut out) is well under it.</summary>
    private static readonly TimeSpan LongestRetryAfter = TimeSpan.FromHours(1);

    /// <summary>
    /// DingTalk does not know the card, but it is stored and was not confirmed when the update left: its creation is still
    /// under way (an operator's update right after <c>POST /api/cards</c>, whose create DingTalk answered 503 and is
    /// retried), or ended without knowing whether DingTalk created it — or DingTalk created it since, while this answer was
    /// on its way (the card confirmed now: the next attempt finds it). The update waits for the card like any failure worth
    /// retrying; once the create is refused for certain the row is gone, and DingTalk's "no such card" is a refusal for
    /// good again, as it is for a card DingTalk had confirmed before the update left.
    /// </summary>
    private async Task<bool> NotCreatedYetAsync(string cardId, bool confirmedWhenSent, Exception ex, CancellationToken cancellationToken) =>
        ex is DingTalkApiException { Code: DingTalkErrors.CardNotExists }
        && (await batcher.QueryBesideAsync<long>(
            "SELECT COUNT(*) FROM cards WHERE id = @cardId AND (creation_confirmed = 0 OR @confirmedWhenSent = 0)",
            new { cardId, confirmedWhenSent = confirmedWhenSent ? 1L : 0L },
            cancellationToken))[0] > 0;

    /// <returns>False when this replica no longer held the card's lease, and so marked nothing.</returns>
    private async Task<bool> MarkAsync(
        Folded folded, string status, string? error, DingTalkApiException? dingTalk, int? attempts, CancellationToken cancellationToken) =>
        await UpdateFoldedAsync(
            folded,
            // Sent keeps the last failure before it went through; a dead letter shows the failure it was given up on, so
            // an earlier attempt's DingTalk status, code and required scopes never stand beside a later attempt's error (a
            // timeout, say).
            status == "Sent"
                ? "status = @status, sent_at = @sentAt, attempts = attempts + 1"
                : "status = @status, last_error = @error, last_error_status = @errorStatus, last_error_code = @errorCode, last_error_scopes = @errorScopes, attempts = @attempts",
            new
            {
                status,
                error,
                errorStatus = dingTalk is null ? (int?)null : (int)dingTalk.StatusCode,
                errorCode = dingTalk?.Code,
                errorScopes = SqlOutbox.OutboxRow.ScopesOf(dingTalk),
                attempts,
                sentAt = status == "Sent" ? clock.GetUtcNow().ToUnixTimeMilliseconds() : (long?)null,
            },
            CancellationToken.None) is not LeaseLost;

    /// <summary>
    /// Sets <paramref name="set"/> on the folded entries <see cref="RowsPerWrite"/> at a time, oldest first, each part
    /// a write of its own: on SQLite a part is one turn of the writer, so marking the hundreds of entries a busy card
    /// folds never holds the clicks up for long (as one statement it held them up to 18 ms, which was the callback
    /// benchmark's p99). Oldest first, so a crash between parts leaves only newer entries pending, and sending those
    /// again never puts older values back on the card.
    /// </summary>
    /// <remarks>
    /// Exactly the folded ids, not the range between the first and the last: an entry committed after the fold was read
    /// (a transaction that took its id earlier and committed later) was not sent, and stays pending. Each write checks
    /// that this replica still holds the card's lease; once it does not, nothing more is written (<see cref="LeaseLost"/>).
    /// </remarks>
    private async Task<int> UpdateFoldedAsync(Folded folded, string set, object values, CancellationToken cancellationToken)
    {
        var written = 0;
        for (var start = 0; start < folded.Ids.Count; start += RowsPerWrite)
        {
            var parameters = new DynamicParameters(values);
            parameters.Add("CardId", folded.CardId);
            parameters.Add("Owner", _owner);
            var ids = folded.Ids.GetRange(start, Math.Min(RowsPerWrite, folded.Ids.Count - start));
            for (var i = 0; i < ids.Count; i++)
            {
                parameters.Add("Id" + i.ToString(CultureInfo.InvariantCulture), ids[i]);
            }

            // One parameter per id, spelled out: Dapper expands a list for SQLite but passes it to Npgsql as an array.
            var part = await WriteAsync(
                $"""
                UPDATE outbox SET {set}
                WHERE card_id = @CardId AND status = 'Pending' AND id IN ({string.Join(", ", ids.Select((_, i) => "@Id" + i.ToString(CultureInfo.InvariantCulture)))})
                  AND EXISTS (SELECT 1 FROM outbox_leases WHERE card_id = @CardId AND owner = @Owner)
                """,
                parameters,
                cancellationToken);
            if (part == 0)
            {
                return LeaseLost;
            }

            written += part;
        }

        return written;
    }

    /// <summary>What <see cref="UpdateFoldedAsync"/> returns when a write found the lease gone (or the entries marked by someone else).</summary>
    private const int LeaseLost = -1;

    private Task<int> WriteAsync(string sql, object parameters, CancellationToken cancellationToken) =>
        StorageSession.ExecuteAsync(database, batcher, sql, parameters, cancellationToken);

    /// <summary>
    /// Worth retrying: DingTalk throttled or was overloaded, the token went stale, or it could not be reached — or it
    /// answered 2xx with a body that could not be read (a proxy's page, a body cut short, none at all:
    /// <c>gateway.unreadableAnswer</c>), which no more refuses the update than a 200 without <c>success</c> does
    /// (<c>gateway.notSucceeded</c>); both are 502s of our own, retried: an update is sent again safely.
    /// </summary>
    private static bool IsTransient(Exception ex) => ex switch
    {
        DingTalkApiException dingTalk => dingTalk.Kind is DingTalkErrorKind.Transient or DingTalkErrorKind.InvalidToken,
        HttpRequestException or Refit.ApiRequestException or TimeoutRejectedException or BrokenCircuitException or TaskCanceledException => true,
        _ => false,
    };

    private static string Describe(Exception ex) => ex switch
    {
        // The call and DingTalk's request id end it, for the log line and the dead letter: what DingTalk's support asks for.
        DingTalkApiException dingTalk => $"DingTalk {(int)dingTalk.StatusCode} {dingTalk.Code}: {dingTalk.DingTalkMessage}{dingTalk.Trail}",
        _ => ex.GetType().Name + ": " + ex.Message,
    };

    /// <summary>
    /// The card as stored, for a refresh (<see cref="StoredAsync"/>): its public data as values to send, and its private
    /// data as the column holds it (users → encoded values; null: none to send), read only for the users a refresh names
    /// (every user, for a resend). <paramref name="Found"/>: false when no card of the kind is stored, so nothing was read.
    /// </summary>
    private sealed record StoredCard(IReadOnlyDictionary<string, JsonElement> PublicData, string? PrivateData, bool Found = true)
    {
        /// <summary>
        /// <paramref name="refresh"/> as the update it stands for: the stored public data, and each of its users' stored
        /// private data, every key (a user with none stored is left out: there is nothing to merge back) — every user's, for a
        /// resend.
        /// </summary>
        public PendingCardUpdate Refreshed(PendingCardUpdate refresh) => refresh with
        {
            CardData = PublicData,
            PrivateData = PrivateDataOf(refresh.RefreshUsers, everyone: refresh.Resend),
            Refresh = false,
            RefreshUsers = null,
            Resend = false,
        };

        /// <summary>The stored private data of <paramref name="users"/> alone (or of everyone), picked out of the column in one pass, or null when none has any.</summary>
        private Dictionary<string, IReadOnlyDictionary<string, JsonElement>>? PrivateDataOf(IReadOnlyList<string>? users, bool everyone)
        {
            if ((users is not { Count: > 0 } && !everyone) || PrivateData is null)
            {
                return null;
            }

            var wanted = (users ?? []).ToHashSet(StringComparer.Ordinal);
            Dictionary<string, IReadOnlyDictionary<string, JsonElement>>? picked = null;
            using var json = JsonDocument.Parse(PrivateData);
            foreach (var user in json.RootElement.EnumerateObject())
            {
                if ((everyone || wanted.Contains(user.Name)) && CardUpdates.Properties(user.Value) is { Count: > 0 } values)
                {
                    picked ??= new Dictionary<string, IReadOnlyDictionary<string, JsonElement>>(StringComparer.Ordinal);
                    picked[user.Name] = values;
                }
            }

            return picked;
        }
    }

    /// <summary>The entries folded into one call: a card's pending entries, by id in order (this replica holds the card's lease), and when each was queued.</summary>
    private sealed record Folded(string CardId, List<long> Ids, List<long> CreatedAt)
    {
        public int Count => Ids.Count;

        /// <summary>The entries queued (epoch milliseconds) as <paramref name="keep"/> says, in id order.</summary>
        public Folded QueuedWhere(Func<long, bool> keep)
        {
            var kept = Enumerable.Range(0, Ids.Count).Where(i => keep(CreatedAt[i])).ToList();
            return this with { Ids = kept.ConvertAll(i => Ids[i]), CreatedAt = kept.ConvertAll(i => CreatedAt[i]) };
        }
    }

    private static partial class Log
    {
        [LoggerMessage(4101, LogLevel.Debug, "Delivered the update for everyone of card {CardId} ({Entries} outbox entries folded into one call, {Attempts} earlier attempts)")]
        public static partial void Delivered(ILogger logger, string cardId, int entries, int attempts);

        [LoggerMessage(4102, LogLevel.Warning, "The update for everyone of card {CardId} ({Entries} entries) failed on attempt {Attempts}: {Error}; retrying in {DelayMs} ms")]
        public static partial void WillRetry(ILogger logger, string cardId, int entries, int attempts, string error, long delayMs);

        [LoggerMessage(4103, LogLevel.Error, "The update for everyone of card {CardId} ({Entries} entries) is dead-lettered after {Attempts} attempts: {Error}; it stays visible in GET /api/cards")]
        public static partial void DeadLettered(ILogger logger, string cardId, int entries, int attempts, string error);

        [LoggerMessage(4105, LogLevel.Warning, "Could not renew the outbox lease on card {CardId} ({Reason}); another replica may take the card over")]
        public static partial void LeaseRenewalFailed(ILogger logger, Exception? exception, string cardId, string reason);

        [LoggerMessage(4104, LogLevel.Error, "The outbox dispatcher failed ({Reason}); the updates stay pending, and it tries again every {RetryMs} ms without saying so until it goes through (4112)")]
        public static partial void DispatchFailed(ILogger logger, Exception? exception, string reason, long retryMs);

        [LoggerMessage(4112, LogLevel.Information, "The outbox dispatcher goes through again after {Failures} failed passes")]
        public static partial void DispatchBack(ILogger logger, int failures);

        [LoggerMessage(4107, LogLevel.Error, "DingTalk refused the update for everyone of card {CardId} because the app lacks a permission; DingTalk requires {RequiredScopes}: grant it to the app in DingTalk's developer console, then resend the card (POST /api/cards/{CardId}/resend, or /api/robot-cards/…/resend; GET /api/cards shows the dead letter)")]
        public static partial void PermissionMissing(ILogger logger, string cardId, string requiredScopes);

        [LoggerMessage(4108, LogLevel.Information, "The resend of card {CardId}'s whole stored state (outbox entry {ResendId}) reached DingTalk: its {DeadLetters} older dead letters are resolved and no longer count as dead")]
        public static partial void DeadLettersResolved(ILogger logger, string cardId, int deadLetters, long resendId);

        [LoggerMessage(4121, LogLevel.Information, "Stopping while sending the update for everyone of card {CardId} ({Entries} entries): the send is cut off and the entries stay pending for another replica; a refresh of the card is queued, in case the cut-off attempt lands after that replica's send")]
        public static partial void StoppedWhileSending(ILogger logger, string cardId, int entries);

        [LoggerMessage(4106, LogLevel.Warning, "Lost the outbox lease on card {CardId} while sending its update ({Entries} entries): another replica has the card now, and the entries stay pending for it; a refresh of the card is queued, in case this send lands after that replica's")]
        public static partial void LeaseLostWhileSending(ILogger logger, string cardId, int entries);
    }
}
