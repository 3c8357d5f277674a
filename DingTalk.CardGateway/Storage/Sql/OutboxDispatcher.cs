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
/// sends again after the lease expires: delivery is at least once.
/// </summary>
public sealed partial class OutboxDispatcher(
    GatewayDatabase database,
    SqliteWriteBatcher batcher,
    CardSender sender,
    OutboxSignal signal,
    IOptionsMonitor<OutboxOptions> options,
    GatewayMetrics metrics,
    TimeProvider clock,
    ILogger<OutboxDispatcher> logger) : BackgroundService
{
    /// <summary>Entries one write marks: a turn of the SQLite writer of well under a millisecond.</summary>
    private const int RowsPerWrite = 64;

    private readonly string _owner = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Counted on their own loop: a pass can wait a long time on a DingTalk that is down, which is when the count matters.
        var counting = CountLoopAsync(stoppingToken);
        await DispatchLoopAsync(stoppingToken);
        await counting;
    }

    /// <summary>The undelivered entries, counted for the <c>cardgateway.outbox.entries</c> gauge.</summary>
    public async Task CountAsync(CancellationToken cancellationToken)
    {
        var counts = await batcher.QueryBesideAsync<(string Status, long Count)>(
            "SELECT status, COUNT(*) FROM outbox WHERE status IN ('Pending', 'Dead') GROUP BY status", new { }, cancellationToken);
        metrics.OutboxCounted(
            counts.FirstOrDefault(c => c.Status == "Pending").Count,
            counts.FirstOrDefault(c => c.Status == "Dead").Count);
    }

    private async Task CountLoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await CountAsync(stoppingToken);
                await Task.Delay(options.CurrentValue.CountInterval, clock, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception) when (!stoppingToken.IsCancellationRequested)
            {
                // The dispatch loop says the database is away; the gauge keeps its last count until it is back.
                await Task.Delay(options.CurrentValue.CountInterval, clock, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task DispatchLoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var worked = await RunOnceAsync(stoppingToken);
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
                // The database is away: say so and try again; nothing is lost, the entries stay pending.
                Log.DispatchFailed(logger, ex);
                await Task.Delay(options.CurrentValue.RetryBaseDelay, clock, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>One pass over the cards with due entries; true when any card was sent to.</summary>
    public async Task<bool> RunOnceAsync(CancellationToken cancellationToken)
    {
        var released = signal.TakeReleased();
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var cards = await batcher.QueryBesideAsync<string>(
            """
            SELECT card_id FROM outbox WHERE status = 'Pending'
            GROUP BY card_id HAVING MIN(available_at) <= @now
            ORDER BY MIN(id) LIMIT 64
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
        await Parallel.ForEachAsync(
            cards,
            new ParallelOptions { MaxDegreeOfParallelism = options.CurrentValue.Concurrency, CancellationToken = cancellationToken },
            async (card, ct) => await DeliverCardAsync(card, releasedCards.Contains(card), ct));
        return true;
    }

    private async Task DeliverCardAsync(string cardId, bool answerSent, CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        if (!await TryLeaseAsync(cardId, o, cancellationToken))
        {
            return; // another replica (or another pass) is sending this card
        }

        using var renewal = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewing = RenewLeaseAsync(cardId, o, renewal.Token);
        try
        {
            var now = clock.GetUtcNow();
            if (await FoldDueAsync(cardId, answerSent, now, cancellationToken) is not { } due)
            {
                return;
            }

            var (update, folded, first) = due;

            try
            {
                await sender.DeliverAsync(update, cancellationToken);
                await MarkAsync(folded, "Sent", null, null, null, cancellationToken);
                Log.Delivered(logger, cardId, folded.Count, first.Attempts);
                metrics.Sent(update.Kind, "delivered", clock.GetUtcNow() - DateTimeOffset.FromUnixTimeMilliseconds(first.CreatedAt));
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                await FailAsync(cardId, update.Kind, folded, first, ex, now, o, cancellationToken);
            }
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
    private async Task<(PendingCardUpdate Update, Folded Folded, SqlOutbox.OutboxRow First)?> FoldDueAsync(
        string cardId, bool answerSent, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var entries = await batcher.QueryBesideAsync<SqlOutbox.OutboxRow>(
            $"SELECT {SqlOutbox.Columns}, payload, available_at FROM outbox WHERE card_id = @cardId AND status = 'Pending' ORDER BY id",
            new { cardId },
            cancellationToken);

        if (entries.Count == 0 || (!answerSent && entries[0].AvailableAt > now.ToUnixTimeMilliseconds()))
        {
            return null;
        }

        await batcher.DurableAsync(); // DingTalk shows only what a crash cannot take back

        var update = entries.Select(e => SqlJson.Read<PendingCardUpdate>(e.Payload)).Aggregate((earlier, later) => earlier.MergeWith(later));
        var first = entries[0];
        return (update, new Folded(cardId, entries.ConvertAll(e => e.Id)), first);
    }

    /// <summary>Keeps the claim alive while a slow send (DingTalk retrying, throttling) is under way.</summary>
    private async Task RenewLeaseAsync(string cardId, OutboxOptions o, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(o.LeaseDuration / 3, clock, cancellationToken);
                await WriteAsync(
                    "UPDATE outbox_leases SET until_at = @until WHERE card_id = @cardId AND owner = @owner",
                    new { cardId, owner = _owner, until = (clock.GetUtcNow() + o.LeaseDuration).ToUnixTimeMilliseconds() },
                    cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // the send is over
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException)
        {
            Log.LeaseRenewalFailed(logger, ex, cardId);
        }
    }

    private async Task<bool> TryLeaseAsync(string cardId, OutboxOptions o, CancellationToken cancellationToken)
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
        return taken == 1;
    }

    private async Task FailAsync(
        string cardId,
        CardKind kind,
        Folded folded,
        SqlOutbox.OutboxRow first,
        Exception ex,
        DateTimeOffset now,
        OutboxOptions o,
        CancellationToken cancellationToken)
    {
        var error = Describe(ex);
        var attempts = first.Attempts + 1;
        var age = now - DateTimeOffset.FromUnixTimeMilliseconds(first.CreatedAt);
        if (!IsTransient(ex) || age >= o.GiveUpAfter)
        {
            await MarkAsync(folded, "Dead", error, ex as DingTalkApiException, attempts, cancellationToken);
            Log.DeadLettered(logger, cardId, folded.Count, attempts, error);
            metrics.Sent(kind, "dead_lettered");
            return;
        }

        var backoff = TimeSpan.FromTicks(Math.Min(o.RetryMaxDelay.Ticks, o.RetryBaseDelay.Ticks * (1L << Math.Min(attempts - 1, 20))));
        var jittered = backoff * (0.8 + (Random.Shared.NextDouble() * 0.4));
        await UpdateFoldedAsync(
            folded,
            "attempts = @attempts, last_error = @error, last_error_status = @errorStatus, last_error_code = @errorCode, available_at = @availableAt",
            new
            {
                attempts,
                error,
                errorStatus = (ex as DingTalkApiException)?.StatusCode is { } status ? (int)status : (int?)null,
                errorCode = (ex as DingTalkApiException)?.Code,
                availableAt = (now + jittered).ToUnixTimeMilliseconds(),
            },
            cancellationToken);
        Log.WillRetry(logger, cardId, folded.Count, attempts, error, (long)jittered.TotalMilliseconds);
        metrics.Sent(kind, "retrying");
    }

    private Task<int> MarkAsync(
        Folded folded, string status, string? error, DingTalkApiException? dingTalk, int? attempts, CancellationToken cancellationToken) =>
        UpdateFoldedAsync(
            folded,
            """
            status = @status, sent_at = @sentAt, last_error = COALESCE(@error, last_error),
                last_error_status = COALESCE(@errorStatus, last_error_status), last_error_code = COALESCE(@errorCode, last_error_code),
                attempts = COALESCE(@attempts, attempts + 1)
            """,
            new
            {
                status,
                error,
                errorStatus = dingTalk is null ? (int?)null : (int)dingTalk.StatusCode,
                errorCode = dingTalk?.Code,
                attempts,
                sentAt = status == "Sent" ? clock.GetUtcNow().ToUnixTimeMilliseconds() : (long?)null,
            },
            CancellationToken.None);

    /// <summary>
    /// Sets <paramref name="set"/> on the folded entries <see cref="RowsPerWrite"/> at a time, oldest first, each part
    /// a write of its own: on SQLite a part is one turn of the writer, so marking the hundreds of entries a busy card
    /// folds never holds the clicks up for long (as one statement it held them up to 18 ms, which was the callback
    /// benchmark's p99). Oldest first, so a crash between parts leaves only newer entries pending, and sending those
    /// again never puts older values back on the card.
    /// </summary>
    private async Task<int> UpdateFoldedAsync(Folded folded, string set, object values, CancellationToken cancellationToken)
    {
        var written = 0;
        for (var start = 0; start < folded.Ids.Count; start += RowsPerWrite)
        {
            var parameters = new DynamicParameters(values);
            parameters.Add("CardId", folded.CardId);
            parameters.Add("After", start == 0 ? 0L : folded.Ids[start - 1]);
            parameters.Add("Through", folded.Ids[Math.Min(start + RowsPerWrite, folded.Ids.Count) - 1]);
            written += await WriteAsync(
                $"UPDATE outbox SET {set} WHERE card_id = @CardId AND status = 'Pending' AND id > @After AND id <= @Through", parameters, cancellationToken);
        }

        return written;
    }

    private Task<int> WriteAsync(string sql, object parameters, CancellationToken cancellationToken) =>
        StorageSession.ExecuteAsync(database, batcher, sql, parameters, cancellationToken);

    /// <summary>Worth retrying: DingTalk throttled or was overloaded, the token went stale, or it could not be reached.</summary>
    private static bool IsTransient(Exception ex) => ex switch
    {
        DingTalkApiException dingTalk => dingTalk.Kind is DingTalkErrorKind.Transient or DingTalkErrorKind.InvalidToken,
        HttpRequestException or Refit.ApiRequestException or TimeoutRejectedException or BrokenCircuitException or TaskCanceledException => true,
        _ => false,
    };

    private static string Describe(Exception ex) => ex switch
    {
        DingTalkApiException dingTalk => $"DingTalk {(int)dingTalk.StatusCode} {dingTalk.Code}: {dingTalk.DingTalkMessage}",
        _ => ex.GetType().Name + ": " + ex.Message,
    };

    /// <summary>The entries folded into one call: a card's pending entries, by id in order (this replica holds the card's lease).</summary>
    private sealed record Folded(string CardId, List<long> Ids)
    {
        public int Count => Ids.Count;
    }

    private static partial class Log
    {
        [LoggerMessage(4101, LogLevel.Debug, "Delivered the update for everyone of card {CardId} ({Entries} outbox entries folded into one call, {Attempts} earlier attempts)")]
        public static partial void Delivered(ILogger logger, string cardId, int entries, int attempts);

        [LoggerMessage(4102, LogLevel.Warning, "The update for everyone of card {CardId} ({Entries} entries) failed on attempt {Attempts}: {Error}; retrying in {DelayMs} ms")]
        public static partial void WillRetry(ILogger logger, string cardId, int entries, int attempts, string error, long delayMs);

        [LoggerMessage(4103, LogLevel.Error, "The update for everyone of card {CardId} ({Entries} entries) is dead-lettered after {Attempts} attempts: {Error}; it stays visible in GET /api/cards")]
        public static partial void DeadLettered(ILogger logger, string cardId, int entries, int attempts, string error);

        [LoggerMessage(4105, LogLevel.Warning, "Could not renew the outbox lease on card {CardId}; another replica may take the card over")]
        public static partial void LeaseRenewalFailed(ILogger logger, Exception exception, string cardId);

        [LoggerMessage(4104, LogLevel.Error, "The outbox dispatcher could not reach the database; retrying")]
        public static partial void DispatchFailed(ILogger logger, Exception exception);
    }
}
