using System.Globalization;
using Dapper;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>The outbox table: entries join the session's transaction, so they exist exactly when the state change does.</summary>
public sealed class SqlOutbox(
    StorageSession session,
    OutboxSignal signal,
    IOptionsMonitor<OutboxOptions> options,
    TimeProvider clock) : IOutbox
{
    internal const string Columns = "id, card_id, status, attempts, created_at, sent_at, last_error, last_error_status, last_error_code, last_error_scopes, resolved_at, resolved_by";
    private static readonly string UnsentSql = UndoneOfCard.Sql("outbox", Columns);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(25);

    /// <remarks>
    /// In SQLite's group commit, the update for everyone of a callback joins the entry an earlier callback of the same
    /// batch queued for the same card, if nothing else was queued for that card since: one row per card and batch
    /// instead of one per click, which the dispatcher would only fold into one call anyway (a busy poll's batch holds
    /// ~15 votes). The open entry is kept with the writer's rows (<see cref="SqliteRowCache"/>) for the batch: a merge
    /// changes it in memory, and its payload is written once, as the batch commits; a unit rolled back undoes its
    /// merges like any other kept row. An update not after an answer (an operator's) starts a new entry, so nothing
    /// queued after it lands before it.
    /// </remarks>
    public async Task<long> EnqueueAsync(PendingCardUpdate update, bool afterAnswer, CancellationToken cancellationToken)
    {
        var id = await session.WriteAsync(
            async (connection, transaction) =>
            {
                var rows = session.Rows;
                var key = "outbox:" + update.CardId;
                if (afterAnswer && rows is not null && rows.TryGet(key, out var kept) && kept.Value is OpenEntry open)
                {
                    var merged = new OpenEntry(open.Id, open.Update.MergeWith(update));
                    rows.Set(key, Kept(merged));
                    rows.Set("outbox-entry:" + open.Id.ToString(CultureInfo.InvariantCulture), Kept(merged, write: true));
                    return open.Id;
                }

                var inserted = (await connection.ScalarAsync<long?>(transaction, Insert + " RETURNING id", cancellationToken, Entry(update, afterAnswer)))!.Value;
                rows?.Set(key, Kept(afterAnswer ? new OpenEntry(inserted, update) : null));
                return inserted;
            },
            cancellationToken);
        if (!session.InTransaction)
        {
            signal.Wake();
        }

        return id;
    }

    /// <remarks>
    /// On PostgreSQL, inside a transaction, the entry is written with the <c>COMMIT</c>
    /// (<see cref="StorageSession.WriteWithCommit"/>): one round trip less while a hot card's rows are locked. It takes
    /// its id then, still under the card's lock, so the card's entries keep the order of their commits.
    /// </remarks>
    public Task EnqueueLastAsync(PendingCardUpdate update, CancellationToken cancellationToken)
    {
        if (!session.CanWriteWithCommit)
        {
            return EnqueueAsync(update, afterAnswer: true, cancellationToken);
        }

        session.WriteWithCommit(Insert, Entry(update, afterAnswer: true));
        return Task.CompletedTask;
    }

    private const string Insert =
        """
        INSERT INTO outbox (card_id, kind, payload, status, attempts, created_at, available_at)
        VALUES (@CardId, @Kind, @Payload, 'Pending', 0, @Now, @AvailableAt)
        """;

    /// <summary>The parameters of <see cref="Insert"/>: a pending entry, due at once, or after <see cref="OutboxOptions.AnswerFirstDelay"/> when it follows an answer.</summary>
    private (string Name, object? Value)[] Entry(PendingCardUpdate update, bool afterAnswer)
    {
        var now = clock.GetUtcNow();
        var availableAt = afterAnswer ? now + options.CurrentValue.AnswerFirstDelay : now;
        return
        [
            ("CardId", update.CardId),
            ("Kind", update.Kind.ToString()),
            ("Payload", SqlJson.Write(update)),
            ("Now", now.ToUnixTimeMilliseconds()),
            ("AvailableAt", availableAt.ToUnixTimeMilliseconds()),
        ];
    }

    /// <summary>
    /// Kept for the batch: under the card's key, its open entry (null: none that may be merged into); under the entry's
    /// own key, with <paramref name="write"/>, the merged payload to write as the batch commits — apart, so an entry
    /// closed by an operator's update is still written.
    /// </summary>
    private static SqliteRowCache.Row Kept(OpenEntry? entry, bool write = false) => new(
        entry,
        0,
        write && entry is not null
            ? (connection, transaction) => connection.RunAsync(
                transaction, "UPDATE outbox SET payload = @Payload WHERE id = @Id", CancellationToken.None, ("Payload", SqlJson.Write(entry.Update)), ("Id", entry.Id))
            : null,
        UntilCommit: true);

    public async Task<OutboxEntry?> FindAsync(long id, CancellationToken cancellationToken)
    {
        return (await session.ReadCommittedAsync(
            (connection, _) => connection.QuerySingleOrDefaultAsync<OutboxRow>(new CommandDefinition(
                $"SELECT {Columns} FROM outbox WHERE id = @id", new { id }, cancellationToken: cancellationToken)),
            cancellationToken))?.ToEntry();
    }

    /// <remarks>
    /// The oldest pending entries (the ones the rest wait behind) and the newest dead letters: a card DingTalk refused a
    /// hundred updates of long ago must still show today's refusal and what waits now, not only the old dead letters.
    /// </remarks>
    public Task<IReadOnlyList<OutboxEntry>> UnsentForCardAsync(string cardId, CancellationToken cancellationToken) =>
        session.ReadAsync(
            async (connection, transaction) => (IReadOnlyList<OutboxEntry>)(await connection.QueryAsync<OutboxRow>(new CommandDefinition(
                UnsentSql,
                new { cardId },
                transaction,
                cancellationToken: cancellationToken))).Select(r => r.ToEntry()).ToList(),
            cancellationToken);

    /// <remarks>
    /// Kept, with when: the rows say what was refused and that an operator let it go, until retention purges them. An
    /// entry's status is its outcome only once it is no longer pending, so nothing else ever writes a dead letter: this
    /// races no dispatcher.
    /// </remarks>
    public Task<int> DismissDeadAsync(string cardId, CancellationToken cancellationToken) =>
        session.WriteAsync(
            (connection, transaction) => connection.RunAsync(
                transaction,
                "UPDATE outbox SET status = 'Dismissed', resolved_at = @Now WHERE card_id = @CardId AND status = 'Dead'",
                cancellationToken,
                ("Now", clock.GetUtcNow().ToUnixTimeMilliseconds()),
                ("CardId", cardId)),
            cancellationToken);

    public async Task<OutboxEntry?> WaitAsync(long id, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        var deadline = clock.GetUtcNow() + maxWait;
        while (true)
        {
            var entry = await FindAsync(id, cancellationToken);
            if (entry is null || entry.Status != OutboxStatus.Pending || clock.GetUtcNow() >= deadline)
            {
                return entry;
            }

            await Task.Delay(PollInterval, clock, cancellationToken);
        }
    }

    /// <summary>
    /// The update entry <paramref name="id"/> carries as SQLite's writer keeps it: an entry of the open batch that later
    /// updates merged into holds its merged payload there until the batch writes it. Null when the table's is current.
    /// </summary>
    internal static PendingCardUpdate? KeptUpdate(SqliteRowCache? rows, long id) =>
        rows is not null && rows.TryGet("outbox-entry:" + id.ToString(CultureInfo.InvariantCulture), out var kept) && kept.Value is OpenEntry entry
            ? entry.Update
            : null;

    /// <summary>A card's entry in the current batch that its next update after an answer merges into.</summary>
    private sealed record OpenEntry(long Id, PendingCardUpdate Update);

    internal sealed class OutboxRow
    {
        public long Id { get; init; }

        public string CardId { get; init; } = "";

        public string Status { get; init; } = "";

        public int Attempts { get; init; }

        public long CreatedAt { get; init; }

        public long? SentAt { get; init; }

        public string? LastError { get; init; }

        public int? LastErrorStatus { get; init; }

        public string? LastErrorCode { get; init; }

        /// <summary>A JSON array of scope names, or null.</summary>
        public string? LastErrorScopes { get; init; }

        public long? ResolvedAt { get; init; }

        public long? ResolvedBy { get; init; }

        public string Payload { get; init; } = "";

        public long AvailableAt { get; init; }

        /// <summary>The card's <c>creation_confirmed</c> (null: no card stored), where a read asks for it.</summary>
        public long? CardCreationConfirmed { get; init; }

        public OutboxEntry ToEntry() => new(
            Id,
            CardId,
            Enum.Parse<OutboxStatus>(Status),
            Attempts,
            DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt),
            SentAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null,
            LastError,
            LastErrorStatus,
            LastErrorCode,
            LastErrorScopes is null ? null : SqlJson.Read<List<string>>(LastErrorScopes),
            ResolvedAt is { } resolved ? DateTimeOffset.FromUnixTimeMilliseconds(resolved) : null,
            ResolvedBy);

        /// <summary>What <see cref="LastErrorScopes"/> stores for <paramref name="error"/>: null unless DingTalk named a scope.</summary>
        public static string? ScopesOf(Exception? error) =>
            error is Cards.DingTalkApiException { RequiredScopes.Count: > 0 } dingTalk ? SqlJson.Write(dingTalk.RequiredScopes) : null;
    }
}
