using Dapper;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Received callbacks. The primary key on the callback id is the deduplication index: a redelivery reaching any
/// replica finds the row (or the first delivery's lock on the id while its transaction is open) and is not handled again.
/// </summary>
public sealed class SqlCallbackStore(StorageSession session, TimeProvider clock) : ICallbackStore
{
    private const string Columns = "callback_id, card_id, transport, type, user_id, action, action_ids, params, received_at, outcome, handler, answer_json, completed_at";
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    /// <remarks>
    /// Under SQLite's one writer the claim is a look-up, and the record is kept with the writer's rows
    /// (<see cref="SqliteRowCache"/>) and written once, with its outcome, as the batch commits — instead of inserted
    /// now and updated by <see cref="CompleteAsync"/>: no other unit can claim the id meanwhile, since units take the
    /// writer one at a time and a later one finds the kept record. A record never completed is written as claimed.
    /// On PostgreSQL the insert is the claim, taken with a transaction lock on the id: a second replica's delivery is
    /// refused at once while the first's transaction is open, instead of waiting on its row until it commits.
    /// </remarks>
    public Task<bool> TryAddAsync(CallbackRecord callback, CancellationToken cancellationToken) =>
        session.WriteAsync(
            async (connection, transaction) =>
            {
                if (session.Rows is not { } rows)
                {
                    if (session.TakeWithClaim() is { } with)
                    {
                        return await ClaimWithAsync(connection, transaction, callback, with, cancellationToken);
                    }

                    return await InsertAsync(connection, transaction, callback, cancellationToken) == 1;
                }

                var key = Key(callback.CallbackId);
                if (rows.TryGet(key, out _)
                    || session.IsClaimHeld(callback.CallbackId)
                    || await connection.ScalarAsync<long?>(transaction, "SELECT 1 FROM callbacks WHERE callback_id = @id", cancellationToken, ("id", callback.CallbackId)) is not null)
                {
                    return false;
                }

                var claim = Kept(callback);
                rows.Set(key, claim);
                session.Recorded(key, claim);
                return true;
            },
            cancellationToken);

    public Task CompleteAsync(string callbackId, CallbackOutcome outcome, string? handler, string answerJson, CancellationToken cancellationToken)
    {
        if (session.CanWriteWithCommit)
        {
            // PostgreSQL, inside the callback's transaction: the outcome is its last write, so it goes with the COMMIT,
            // one round trip fewer while the card's rows are locked.
            session.WriteWithCommit(Complete, Completion(callbackId, outcome, handler, answerJson));
            return Task.CompletedTask;
        }

        return session.WriteAsync(
            (connection, transaction) =>
            {
                var key = Key(callbackId);
                if (session.Rows is { } rows && rows.TryGet(key, out var kept) && kept.Value is CallbackRecord claimed)
                {
                    rows.Set(key, Kept(claimed with { Outcome = outcome, Handler = handler, AnswerJson = answerJson, CompletedAt = clock.GetUtcNow() }));
                    return Task.FromResult(1);
                }

                return connection.RunAsync(transaction, Complete, cancellationToken, Completion(callbackId, outcome, handler, answerJson));
            },
            cancellationToken);
    }

    private const string Complete =
        "UPDATE callbacks SET outcome = @outcome, handler = @handler, answer_json = @answerJson, completed_at = @now WHERE callback_id = @callbackId";

    private (string Name, object? Value)[] Completion(string callbackId, CallbackOutcome outcome, string? handler, string answerJson) =>
    [
        ("outcome", outcome.ToString()),
        ("handler", handler),
        ("answerJson", answerJson),
        ("now", clock.GetUtcNow().ToUnixTimeMilliseconds()),
        ("callbackId", callbackId),
    ];

    /// <summary>Reads committed state on a connection of its own: the first delivery may be another scope or replica.</summary>
    public async Task<CallbackRecord?> FindAsync(string callbackId, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        var deadline = clock.GetUtcNow() + maxWait;
        while (true)
        {
            // Durable once read: a redelivery is answered from it only once the first delivery's answer would be.
            var row = await session.ReadCommittedAsync(
                (connection, _) => connection.QuerySingleOrDefaultAsync<CallbackRow>(new CommandDefinition(
                    $"SELECT {Columns} FROM callbacks WHERE callback_id = @callbackId", new { callbackId }, cancellationToken: cancellationToken)),
                cancellationToken);
            // Not there yet is waited for like pending: the caller was refused the id, so a claim exists — on SQLite in a
            // group-commit batch that other units keep open, uncommitted and so unseen here, for a few milliseconds more.
            var record = row?.ToRecord();
            if (record is { Outcome: not CallbackOutcome.Pending } || clock.GetUtcNow() >= deadline)
            {
                return record;
            }

            await Task.Delay(PollInterval, clock, cancellationToken);
        }
    }

    public Task<IReadOnlyList<CallbackRecord>> ForCardAsync(string cardId, CancellationToken cancellationToken) =>
        session.ReadAsync(
            async (connection, transaction) => (IReadOnlyList<CallbackRecord>)(await connection.QueryAsync<CallbackRow>(new CommandDefinition(
                $"SELECT {Columns} FROM (SELECT {Columns} FROM callbacks WHERE card_id = @cardId ORDER BY received_at DESC LIMIT 100) recent ORDER BY received_at",
                new { cardId },
                transaction,
                cancellationToken: cancellationToken))).Select(r => r.ToRecord()).ToList(),
            cancellationToken);

    /// <remarks>
    /// One card's along <c>callbacks_by_card</c> (card, time), every card's along <c>callbacks_by_age</c> (time), backwards
    /// from the cursor's time: both databases sort only the clicks of one millisecond by id as they go (SQLite's "temp
    /// b-tree for right part of ORDER BY", PostgreSQL's incremental sort), so a page reads about as many rows as it
    /// returns, however many clicks there are. One user's clicks and one outcome's are filtered on the way, reading the
    /// other clicks between them (<c>since</c> ends the read there): an index of their own (a second index on the
    /// callbacks, or the id in this one) would cost every click a write, and cost the durable vote ~20%
    /// (bench/HISTORY.md, twenty-second session), for an operator's query.
    /// </remarks>
    public async Task<CallbackPage> HistoryAsync(string? cardId, CallbackHistoryQuery query, CancellationToken cancellationToken)
    {
        var rows = await session.ReadAsync(
            async (connection, transaction) => (await connection.QueryAsync<CallbackRow>(new CommandDefinition(
                HistoryQuery(query, oneCard: cardId is not null),
                new
                {
                    cardId,
                    userId = query.UserId,
                    outcome = query.Outcome?.ToString(),
                    since = query.Since?.ToUnixTimeMilliseconds(),
                    beforeAt = query.Before?.ReceivedAtMs,
                    beforeId = query.Before?.CallbackId,
                    take = query.Limit + 1,
                },
                transaction,
                cancellationToken: cancellationToken))).AsList(),
            cancellationToken);
        var page = rows.Take(query.Limit).Select(r => r.ToRecord()).ToList();
        return new CallbackPage(page, rows.Count > query.Limit ? CallbackCursor.Of(page[^1]).Encode() : null);
    }

    /// <summary>
    /// The text of a history page's query (<see cref="HistoryAsync"/>), of one card's callbacks or every card's: also what
    /// the tests ask the databases to plan.
    /// </summary>
    internal static string HistoryQuery(CallbackHistoryQuery query, bool oneCard = true)
    {
        List<string> conditions = [];
        if (oneCard)
        {
            conditions.Add("card_id = @cardId");
        }

        if (query.UserId is not null)
        {
            conditions.Add("user_id = @userId");
        }

        if (query.Outcome is not null)
        {
            conditions.Add("outcome = @outcome");
        }

        if (query.Since is not null)
        {
            conditions.Add("received_at >= @since");
        }

        if (query.Before is not null)
        {
            conditions.Add("received_at <= @beforeAt AND (received_at, callback_id) < (@beforeAt, @beforeId)");
        }

        return $"""
            SELECT {Columns} FROM callbacks{(conditions.Count == 0 ? "" : "\nWHERE " + string.Join(" AND ", conditions))}
            ORDER BY received_at DESC, callback_id DESC
            LIMIT @take
            """;
    }

    /// <remarks>
    /// Along <c>callbacks_by_age</c> from <paramref name="since"/>: it reads every callback of the window, the handled ones
    /// too, for the same reason the history filters an outcome on the way (an index of the unhandled ones would cost every
    /// click: on PostgreSQL the outcome a click's claim updates would then be indexed, and no update of a claim could stay
    /// on its page, HOT). Each group comes with its example in the same statement, so from the same snapshot: a retention
    /// purge cannot take the example away between the group's read and its own, as a second read by id let it (the group
    /// was then dropped).
    /// </remarks>
    public async Task<(IReadOnlyList<UnhandledActionGroup> Groups, bool More)> UnhandledAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken)
    {
        var groups = await session.ReadAsync(
            async (connection, transaction) => (await connection.QueryAsync<UnhandledRow>(new CommandDefinition(
                UnhandledQuery,
                new { since = since.ToUnixTimeMilliseconds(), outcome = nameof(CallbackOutcome.Unhandled), take = limit + 1 },
                transaction,
                cancellationToken: cancellationToken))).AsList(),
            cancellationToken);
        var found = groups.Take(limit)
            .Select(g => new UnhandledActionGroup(
                g.TemplateId, (int)g.Count, DateTimeOffset.FromUnixTimeMilliseconds(g.FirstSeen), DateTimeOffset.FromUnixTimeMilliseconds(g.LastSeen), g.ToRecord()))
            .ToList();
        return (found, groups.Count > limit);
    }

    /// <summary>
    /// <see cref="UnhandledAsync"/>'s groups: what a handler is chosen by (the template the card was sent with, the type,
    /// <c>params.action</c>, and the <c>actionIds</c> of a click without one), the most clicked first, each with its latest
    /// click by receipt time (of two in one millisecond, the greater id) as its example, joined by id after the
    /// <c>LIMIT</c>, so only the groups listed read a whole row.
    /// </summary>
    internal static readonly string UnhandledQuery =
        $"""
        SELECT listed.TemplateId, listed.Count, listed.FirstSeen, listed.LastSeen, {string.Join(", ", Columns.Split(", ").Select(c => "example." + c))}
        FROM (
            SELECT TemplateId, Count, FirstSeen, LastSeen, Example
            FROM (
                SELECT cards.template_id AS TemplateId, callbacks.callback_id AS Example,
                       COUNT(*) OVER click_group AS Count, MIN(callbacks.received_at) OVER click_group AS FirstSeen,
                       MAX(callbacks.received_at) OVER click_group AS LastSeen,
                       ROW_NUMBER() OVER (click_group ORDER BY callbacks.received_at DESC, callbacks.callback_id DESC) AS Latest
                FROM callbacks LEFT JOIN cards ON cards.id = callbacks.card_id
                WHERE callbacks.received_at >= @since AND callbacks.outcome = @outcome
                WINDOW click_group AS (PARTITION BY cards.template_id, callbacks.type, callbacks.action, CASE WHEN callbacks.action IS NULL THEN callbacks.action_ids END)
            ) clicks
            WHERE Latest = 1
            ORDER BY Count DESC, LastSeen DESC, Example DESC
            LIMIT @take
        ) listed
        JOIN callbacks example ON example.callback_id = listed.Example
        ORDER BY listed.Count DESC, listed.LastSeen DESC, listed.Example DESC
        """;

    private static string Key(string callbackId) => "callback:" + callbackId;

    private SqliteRowCache.Row Kept(CallbackRecord record) =>
        new(record, 0, (connection, transaction) => InsertAsync(connection, transaction, record, CancellationToken.None), UntilCommit: true);

    /// <summary>
    /// Inserts the record unless the id is taken. An insert meeting another transaction's uncommitted claim would wait
    /// until that transaction ends — for as long as its handler runs, past its budget too — so on PostgreSQL the same
    /// statement first tries a transaction lock on the id (<see cref="SqlDialect.TryLockKey"/>): held, it inserts
    /// nothing at once, and <see cref="FindAsync"/> waits for the first delivery's answer, bounded.
    /// </summary>
    private Task<int> InsertAsync(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, CallbackRecord callback, CancellationToken cancellationToken)
    {
        var (sql, parameters) = Insert(callback);
        return connection.RunAsync(transaction, sql, cancellationToken, parameters);
    }

    /// <summary>
    /// Sets how long this transaction may sit idle before PostgreSQL ends its session: a replica stopped inside it (a
    /// process frozen, a host cut off) would otherwise hold the click's claim and its card's rows until TCP gives up on
    /// it, hours later. Set for the transaction alone, not the session or the connection string: a pooler in front of
    /// PostgreSQL (PgBouncer) refuses startup options and shares sessions.
    /// </summary>
    private static string IdleLimit(TimeSpan limit) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"SET LOCAL idle_in_transaction_session_timeout = {(long)Math.Ceiling(limit.TotalMilliseconds)}");

    /// <summary>
    /// PostgreSQL: the claim, with what comes right after it in the same round trip (<see cref="StorageSession.WithNextClaim"/>):
    /// the card's read, the reads of its own states a handler read before (<see cref="CardStateNames"/>), and the savepoint.
    /// </summary>
    private async Task<bool> ClaimWithAsync(
        System.Data.Common.DbConnection connection,
        System.Data.Common.DbTransaction transaction,
        CallbackRecord callback,
        (string CardId, string Savepoint, TimeSpan IdleLimit, string[] StateNames) with,
        CancellationToken cancellationToken)
    {
        var (insert, parameters) = Insert(callback);
        var (cardRead, mapCard, cardParameters) = SqlCardStore.Reading(with.CardId);
        await using var batch = connection.CreateBatch();
        batch.Transaction = transaction;
        batch.Add(insert + " RETURNING 1", parameters);
        batch.Add(cardRead, cardParameters);
        if (with.StateNames.Length > 0)
        {
            batch.Add(SqlHandlerStateStore.ReadingAll, [("cardId", with.CardId), ("handlers", with.StateNames)]);
        }

        // Before the savepoint: a rollback to it must not undo the limit.
        batch.Add(IdleLimit(with.IdleLimit), []);
        batch.Add($"SAVEPOINT {with.Savepoint}", []);
        bool claimed;
        CardRecord? card;
        var states = new Dictionary<string, (string? State, long Version)>(StringComparer.Ordinal);
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            claimed = await reader.ReadAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken);
            card = await reader.ReadAsync(cancellationToken) ? mapCard(reader) : null;
            if (with.StateNames.Length > 0)
            {
                await reader.NextResultAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    states[reader.GetString(0)] = (reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt64(2));
                }
            }

            while (await reader.NextResultAsync(cancellationToken))
            {
                // the savepoint's outcome: an error there is thrown from here
            }
        }

        session.ClaimedWith(with.CardId, card, with.Savepoint, with.StateNames, states);
        return claimed;
    }

    /// <summary>The claim's statement and parameters (<see cref="InsertAsync"/>).</summary>
    private (string Sql, (string Name, object? Value)[] Parameters) Insert(CallbackRecord callback) =>
    (
        $"""
        INSERT INTO callbacks ({Columns})
        SELECT @CallbackId, @CardId, @Transport, @Type, @UserId, @Action, @ActionIds, @Params, @ReceivedAt, @Outcome, @Handler, @AnswerJson, @CompletedAt
        WHERE {session.Dialect.TryLockKey("@Key")}
        ON CONFLICT (callback_id) DO NOTHING
        """,
        [
            ("Key", Key(callback.CallbackId)),
            ("CallbackId", callback.CallbackId),
            ("CardId", callback.CardId),
            ("Transport", callback.Transport),
            ("Type", callback.Type),
            ("UserId", callback.UserId),
            ("Action", callback.Action),
            ("ActionIds", SqlJson.Write(callback.ActionIds)),
            ("Params", callback.Params is { ValueKind: not System.Text.Json.JsonValueKind.Undefined } parameters ? parameters.GetRawText() : null),
            ("ReceivedAt", callback.ReceivedAt.ToUnixTimeMilliseconds()),
            ("Outcome", callback.Outcome.ToString()),
            ("Handler", callback.Handler),
            ("AnswerJson", callback.AnswerJson),
            ("CompletedAt", callback.CompletedAt?.ToUnixTimeMilliseconds()),
        ]);

    /// <summary>A group of unhandled clicks, and its example's columns.</summary>
    private sealed class UnhandledRow : CallbackRow
    {
        public string? TemplateId { get; init; }

        public long Count { get; init; }

        public long FirstSeen { get; init; }

        public long LastSeen { get; init; }
    }

    private class CallbackRow
    {
        public string CallbackId { get; init; } = "";

        public string CardId { get; init; } = "";

        public string Transport { get; init; } = "";

        public string Type { get; init; } = "";

        public string UserId { get; init; } = "";

        public string? Action { get; init; }

        public string ActionIds { get; init; } = "[]";

        public string? Params { get; init; }

        public long ReceivedAt { get; init; }

        public string Outcome { get; init; } = "";

        public string? Handler { get; init; }

        public string? AnswerJson { get; init; }

        public long? CompletedAt { get; init; }

        public CallbackRecord ToRecord() => new()
        {
            CallbackId = CallbackId,
            CardId = CardId,
            Transport = Transport,
            Type = Type,
            UserId = UserId,
            Action = Action,
            ActionIds = SqlJson.Read<List<string>>(ActionIds),
            Params = Params is null ? null : SqlJson.Read<System.Text.Json.JsonElement>(Params),
            ReceivedAt = DateTimeOffset.FromUnixTimeMilliseconds(ReceivedAt),
            Outcome = Enum.Parse<CallbackOutcome>(Outcome),
            Handler = Handler,
            AnswerJson = AnswerJson,
            CompletedAt = CompletedAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null,
        };
    }
}
