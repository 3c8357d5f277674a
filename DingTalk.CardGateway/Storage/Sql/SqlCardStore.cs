using Dapper;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>Cards in SQLite or PostgreSQL; an update lands only on the version it was computed from, so concurrent changes never overwrite each other.</summary>
/// <remarks>
/// On SQLite, inside a transaction, the writer's kept card is read and changed instead (<see cref="SqliteRowCache"/>):
/// there is one writer, so the kept card is the current one, and the batch writes it once as it commits.
/// </remarks>
public sealed class SqlCardStore(StorageSession session, TimeProvider clock) : ICardStore
{
    private const string Columns = "id, kind, template_id, callback_type, open_space_id, public_data, private_data, version, created_at, updated_at, creation_confirmed";
    private const string SelectById = $"SELECT {Columns} FROM cards WHERE id = @id";
    private const string Update = "UPDATE cards SET public_data = @PublicData, private_data = @PrivateData, version = @Version, updated_at = @UpdatedAt WHERE id = @Id";

    /// <summary>The card as this scope last locked or wrote it (PostgreSQL): while the lock holds (<see cref="Locked"/>), what an update starts from and what <see cref="FindAsync"/> reads.</summary>
    private CardRecord? _locked;

    /// <summary>The session's <see cref="StorageSession.LockEpoch"/> when <see cref="_locked"/> was taken: past it, the lock (and maybe the write) is gone.</summary>
    private long _lockedIn;

    /// <summary>The <see cref="StorageSession.LockEpoch"/> in which <see cref="_locked"/> was written with the commit (<see cref="ApplyLastUpdateAsync"/>).</summary>
    private long? _lastIn;

    public Task SaveAsync(CardRecord card, CancellationToken cancellationToken) =>
        session.WriteAsync(
            async (connection, transaction) =>
            {
                Changing(card.Id);
                await connection.ExecuteAsync(new CommandDefinition(
                    $"""
                    INSERT INTO cards ({Columns})
                    VALUES (@Id, @Kind, @TemplateId, @CallbackType, @OpenSpaceId, @PublicData, @PrivateData, @Version, @CreatedAt, @UpdatedAt, @CreationConfirmed)
                    ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, template_id = excluded.template_id,
                        callback_type = excluded.callback_type, open_space_id = excluded.open_space_id,
                        public_data = excluded.public_data, private_data = excluded.private_data,
                        version = excluded.version, updated_at = excluded.updated_at, creation_confirmed = excluded.creation_confirmed
                    """,
                    CardRow.From(card),
                    transaction,
                    cancellationToken: cancellationToken));
                session.Rows?.Set(Key(card.Id), new SqliteRowCache.Row(card, card.Version, Write: null));
                return 0;
            },
            cancellationToken);

    /// <remarks>
    /// On PostgreSQL the id's lock is taken first: an update of an id with no card holds it until its entry commits
    /// (<see cref="ApplyUpdateAsync"/>), so the updates read here are all those that found no card, and an update after
    /// this waits for the card and lands on it.
    /// </remarks>
    public Task<CardRecord?> TryAddUnconfirmedAsync(CardRecord card, CancellationToken cancellationToken) =>
        session.WriteAsync(
            async (connection, transaction) =>
            {
                if (session.Rows is { } rows && rows.TryGet(Key(card.Id), out var kept) && kept.Value is CardRecord)
                {
                    return null; // stored in this batch already, and kept by the writer
                }

                Changing(card.Id);
                await session.Dialect.LockKeyAsync(connection, transaction, Key(card.Id), cancellationToken);
                var unconfirmed = await WithQueuedUpdatesAsync(card with { CreationConfirmed = false }, connection, transaction, cancellationToken);
                var added = await connection.ExecuteAsync(new CommandDefinition(
                    $"""
                    INSERT INTO cards ({Columns})
                    VALUES (@Id, @Kind, @TemplateId, @CallbackType, @OpenSpaceId, @PublicData, @PrivateData, @Version, @CreatedAt, @UpdatedAt, @CreationConfirmed)
                    ON CONFLICT (id) DO NOTHING
                    """,
                    CardRow.From(unconfirmed),
                    transaction,
                    cancellationToken: cancellationToken));
                if (added != 1)
                {
                    return null;
                }

                session.Rows?.Set(Key(card.Id), new SqliteRowCache.Row(unconfirmed, unconfirmed.Version, Write: null));
                return unconfirmed;
            },
            cancellationToken);

    /// <summary>
    /// <paramref name="card"/> with the pending updates of its kind queued for its id — while it had no row, so none of
    /// them is in a stored card — applied in order: each reaches the card DingTalk creates under the id, so the stored
    /// card must show it too. A refresh has no values of its own; an update of the other kind goes to another card.
    /// </summary>
    private async Task<CardRecord> WithQueuedUpdatesAsync(CardRecord card, System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, CancellationToken cancellationToken)
    {
        var queued = await connection.QueryAsync<(long Id, string Payload)>(new CommandDefinition(
            "SELECT id, payload FROM outbox WHERE status = 'Pending' AND card_id = @id AND kind = @kind ORDER BY id",
            new { id = card.Id, kind = card.Kind.ToString() },
            transaction,
            cancellationToken: cancellationToken));
        foreach (var (entryId, payload) in queued)
        {
            var update = SqlOutbox.KeptUpdate(session.Rows, entryId) ?? SqlJson.Read<PendingCardUpdate>(payload);
            if (!update.Refresh)
            {
                card = CardUpdates.StoredChange(update).ApplyTo(card, clock.GetUtcNow());
            }
        }

        return card;
    }

    /// <remarks>
    /// One statement, so nothing lands between finding the row gone and storing it: the row stored is confirmed and keeps
    /// its data, or <paramref name="card"/> is stored, confirmed, where a send DingTalk refused took it away meanwhile.
    /// </remarks>
    public Task ConfirmCreationAsync(CardRecord card, CancellationToken cancellationToken) =>
        session.WriteAsync(
            async (connection, transaction) =>
            {
                var confirmed = card with { CreationConfirmed = true };
                Changing(card.Id);
                await connection.ExecuteAsync(new CommandDefinition(
                    $"""
                    INSERT INTO cards ({Columns})
                    VALUES (@Id, @Kind, @TemplateId, @CallbackType, @OpenSpaceId, @PublicData, @PrivateData, @Version, @CreatedAt, @UpdatedAt, @CreationConfirmed)
                    ON CONFLICT (id) DO UPDATE SET creation_confirmed = 1
                    """,
                    CardRow.From(confirmed),
                    transaction,
                    cancellationToken: cancellationToken));
                if (session.Rows is { } rows && rows.TryGet(Key(card.Id), out var kept))
                {
                    // The kept card's pending write (a click's change, if one came already) writes its data, not this flag.
                    rows.Set(Key(card.Id), kept.Value is CardRecord stored
                        ? kept with { Value = stored with { CreationConfirmed = true } }
                        : new SqliteRowCache.Row(confirmed, confirmed.Version, Write: null));
                }

                return 0;
            },
            cancellationToken);

    public Task ForgetUnconfirmedAsync(string id, CancellationToken cancellationToken) =>
        session.WriteAsync(
            async (connection, transaction) =>
            {
                Changing(id);
                var deleted = await connection.RunAsync(transaction, "DELETE FROM cards WHERE id = @id AND creation_confirmed = 0", cancellationToken, ("id", id));
                if (deleted == 1)
                {
                    session.Rows?.Set(Key(id), new SqliteRowCache.Row(null, 0, Write: null));
                }

                return 0;
            },
            cancellationToken);

    public Task<CardRecord?> FindAsync(string id, CancellationToken cancellationToken) =>
        session.Gated ? session.GatedAsync(() => KeptOrReadAsync(id, cancellationToken), replayable: true) : KeptOrReadAsync(id, cancellationToken);

    /// <remarks>
    /// On SQLite the change lands on the writer's kept card. On PostgreSQL the row is read and locked first — unless
    /// this scope has just locked or written it — and the change is written only on the version read, read and locked
    /// again whenever that condition fails; a card with no row has its id locked instead, until the transaction ends.
    /// </remarks>
    public Task<CardRecord?> ApplyUpdateAsync(string id, CardDataChange change, CancellationToken cancellationToken) =>
        ApplyAsync(id, change, withCommit: false, cancellationToken);

    /// <remarks>
    /// On PostgreSQL, inside a transaction, the card's row is read and locked (or was, by this scope, since the last
    /// change of <see cref="StorageSession.LockEpoch"/>), and its write goes with the <c>COMMIT</c>
    /// (<see cref="StorageSession.WriteWithCommit"/>): no one else can change the row before then, so the write cannot
    /// miss the version it was computed from, and a hot card's next click waits one round trip less for the lock.
    /// Elsewhere, as <see cref="ApplyUpdateAsync"/>.
    /// </remarks>
    public Task<CardRecord?> ApplyLastUpdateAsync(string id, CardDataChange change, CancellationToken cancellationToken) =>
        ApplyAsync(id, change, withCommit: session.CanWriteWithCommit, cancellationToken);

    private Task<CardRecord?> ApplyAsync(string id, CardDataChange change, bool withCommit, CancellationToken cancellationToken) =>
        session.WriteAsync(
            async (connection, transaction) =>
            {
                if (session.Rows is { } rows)
                {
                    return await ApplyInMemoryAsync(rows, id, change, cancellationToken); // in the unit this write opened, if none was open
                }

                AfterTheLastRefused();
                var card = Locked(id) ?? await ReadForUpdateAsync(id, connection, transaction, cancellationToken);
                if (card is null)
                {
                    // No row to lock (a card another system sent): the read took the card's id's lock instead, so the updates
                    // queued for it commit one after another, in the order their outbox ids were taken — the order the
                    // dispatcher sends them. But it saw the table as it was before it waited for that lock: read once more,
                    // under it, so a card a send stored meanwhile (under the same lock, TryAddUnconfirmedAsync, folding in
                    // the updates queued before) gets this update too.
                    card = await ReadForUpdateAsync(id, connection, transaction, cancellationToken);
                }

                session.ForgetCardLockedAlong(id); // from here this store's own hint says what the row holds: once it holds another card, the row read along is stale
                if (withCommit && card is not null)
                {
                    var last = change.ApplyTo(card, clock.GetUtcNow());
                    session.WriteWithCommit(Update, Written(last));
                    (_locked, _lockedIn, _lastIn) = (last, session.LockEpoch, session.LockEpoch); // the version read is locked: the write cannot miss it
                    return last;
                }

                while (card is not null)
                {
                    var updated = change.ApplyTo(card, clock.GetUtcNow());
                    var written = await connection.RunAsync(transaction, Update + " AND version = @Read", cancellationToken, [.. Written(updated), ("Read", card.Version)]);
                    if (written == 1)
                    {
                        (_locked, _lockedIn) = (updated, session.LockEpoch);
                        return updated;
                    }

                    card = await ReadForUpdateAsync(id, connection, transaction, cancellationToken);
                }

                return null; // no card: its id stays locked (each read for update took the lock) until the transaction ends
            },
            cancellationToken);

    /// <summary>On SQLite's writer: the change lands on the kept card, and the batch writes the card once as it commits.</summary>
    private async Task<CardRecord?> ApplyInMemoryAsync(SqliteRowCache rows, string id, CardDataChange change, CancellationToken cancellationToken)
    {
        if (await KeptOrReadAsync(id, cancellationToken) is not { } card)
        {
            return null;
        }

        var updated = change.ApplyTo(card, clock.GetUtcNow());
        rows.Set(Key(id), new SqliteRowCache.Row(updated, updated.Version, (connection, transaction) => connection.RunAsync(transaction, Update, CancellationToken.None, Written(updated))));
        return updated;
    }

    /// <summary>The parameters of <see cref="Update"/> that write <paramref name="card"/>'s data and version.</summary>
    private static (string Name, object? Value)[] Written(CardRecord card) =>
    [
        ("PublicData", CardRow.Write(card.PublicData)),
        ("PrivateData", CardRow.Write(card.PrivateData)),
        ("Version", card.Version),
        ("UpdatedAt", card.UpdatedAt.ToUnixTimeMilliseconds()),
        ("Id", card.Id),
    ];

    /// <summary>
    /// The card as SQLite's writer keeps it, inside a transaction there; otherwise, or the first time, as the database has
    /// it (then kept by the writer; a card that does not exist is not kept).
    /// </summary>
    private async Task<CardRecord?> KeptOrReadAsync(string id, CancellationToken cancellationToken)
    {
        var rows = session.Rows;
        if (rows is not null && rows.TryGet(Key(id), out var row))
        {
            return (CardRecord)row.Value!;
        }

        if (Locked(id) is { } locked)
        {
            return locked; // maybe not in the database yet (ApplyLastUpdateAsync)
        }

        if (session.TryTakeCardReadWithClaim(id, out var read))
        {
            return read; // read in the claim's round trip, a moment ago, in this transaction (StorageSession.WithNextClaim)
        }

        var card = await session.ReadAsync(
            (connection, transaction) => connection.FirstOrDefaultAsync(transaction, SelectById, CardRow.Read, cancellationToken, ("id", id)),
            cancellationToken);
        if (card is not null)
        {
            rows?.Set(Key(id), new SqliteRowCache.Row(card, card.Version, Write: null));
        }

        return card;
    }

    private static string Key(string id) => "card:" + id;

    /// <summary>No card changes in a transaction after its last change (<see cref="ApplyLastUpdateAsync"/>): that one is kept for the commit.</summary>
    private void AfterTheLastRefused()
    {
        if (_lastIn == session.LockEpoch)
        {
            throw new InvalidOperationException("This transaction's last change of a card (ApplyLastUpdateAsync) is made: no card may change after it.");
        }
    }

    /// <summary>A write other than an update: the hint of the card, if it is this one, no longer says what the row holds.</summary>
    private void Changing(string id)
    {
        AfterTheLastRefused();
        session.ForgetCardLockedAlong(id);
        if (_locked is { } locked && string.Equals(locked.Id, id, StringComparison.Ordinal))
        {
            _locked = null;
        }
    }

    /// <summary>The card as this scope locked or wrote it (PostgreSQL), while that lock holds: no one else can have changed it since.</summary>
    /// <remarks>Or as a read for update of one of its handler states took it along (<see cref="StorageSession.LockCardAlong"/>), unless this store locked or wrote it since.</remarks>
    private CardRecord? Locked(string id) =>
        _locked is { } locked && _lockedIn == session.LockEpoch && string.Equals(locked.Id, id, StringComparison.Ordinal) ? locked : session.CardLockedAlong(id);

    /// <summary>
    /// The card's read for update as <see cref="ReadForUpdateAsync"/> sends it, but only if its locks are free: for a
    /// handler state's read for update to send along with its own (<see cref="StorageSession.LockCardAlong"/>). A card
    /// another transaction holds is not waited for there — that one may be a click that changed the card first and now
    /// waits for the state just locked — and is locked in turn when changed, as without it.
    /// </summary>
    internal static (string Sql, Func<System.Data.Common.DbDataReader, CardRecord> Map, (string Name, object? Value)[] Parameters) LockingReadIfFree(SqlDialect dialect, string id) =>
        (dialect.LockingIfFree(Columns, "cards", "id = @id", "@key"), CardRow.Read, [("id", id), ("key", Key(id))]);

    /// <summary>The card's plain read, as <see cref="FindAsync"/> sends it: for a callback's claim to send along with its own (<see cref="StorageSession.WithNextClaim"/>).</summary>
    internal static (string Sql, Func<System.Data.Common.DbDataReader, CardRecord> Map, (string Name, object? Value)[] Parameters) Reading(string id) =>
        (SelectById, CardRow.Read, [("id", id)]);

    private async Task<CardRecord?> ReadForUpdateAsync(string id, System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, CancellationToken cancellationToken)
    {
        // In turn on the key whose lock also stands in for the row of a card the gateway has no copy of (ApplyUpdateAsync).
        var card = await connection.FirstOrDefaultAsync(
            transaction, session.Dialect.LockingInTurn(Columns, "cards", "id = @id", "@key"), CardRow.Read, cancellationToken, ("id", id), ("key", Key(id)));
        (_locked, _lockedIn) = (card, session.LockEpoch);
        return card;
    }

    /// <summary>The row as stored: JSON text and epoch milliseconds.</summary>
    private sealed class CardRow
    {
        private const string Empty = "{}";

        public string Id { get; init; } = "";

        public string Kind { get; init; } = "";

        public string TemplateId { get; init; } = "";

        public string? CallbackType { get; init; }

        public string? OpenSpaceId { get; init; }

        public string PublicData { get; init; } = "{}";

        public string PrivateData { get; init; } = "{}";

        public long Version { get; init; }

        public long CreatedAt { get; init; }

        public long UpdatedAt { get; init; }

        public long CreationConfirmed { get; init; } = 1;

        public static CardRow From(CardRecord card) => new()
        {
            Id = card.Id,
            Kind = card.Kind.ToString(),
            TemplateId = card.TemplateId,
            CallbackType = card.CallbackType,
            OpenSpaceId = card.OpenSpaceId,
            PublicData = Write(card.PublicData),
            PrivateData = Write(card.PrivateData),
            Version = card.Version,
            CreatedAt = card.CreatedAt.ToUnixTimeMilliseconds(),
            UpdatedAt = card.UpdatedAt.ToUnixTimeMilliseconds(),
            CreationConfirmed = card.CreationConfirmed ? 1 : 0,
        };

        /// <summary>A row of <see cref="Columns"/>, in that order, straight to a record (the callback path reads one per click).</summary>
        public static CardRecord Read(System.Data.Common.DbDataReader row) => new CardRow
        {
            Id = row.GetString(0),
            Kind = row.GetString(1),
            TemplateId = row.GetString(2),
            CallbackType = row.IsDBNull(3) ? null : row.GetString(3),
            OpenSpaceId = row.IsDBNull(4) ? null : row.GetString(4),
            PublicData = row.GetString(5),
            PrivateData = row.GetString(6),
            Version = row.GetInt64(7),
            CreatedAt = row.GetInt64(8),
            UpdatedAt = row.GetInt64(9),
            CreationConfirmed = row.GetInt64(10),
        }.ToRecord();

        /// <summary>A map as its JSON column; an empty one (most cards' private data) without the serializer.</summary>
        public static string Write<TValue>(IReadOnlyDictionary<string, TValue> map) => map.Count == 0 ? Empty : SqlJson.Write(map);

        public CardRecord ToRecord() => new()
        {
            Id = Id,
            Kind = Enum.Parse<CardKind>(Kind),
            TemplateId = TemplateId,
            CallbackType = CallbackType,
            OpenSpaceId = OpenSpaceId,
            PublicData = PublicData == Empty ? new Dictionary<string, string>() : SqlJson.Read<Dictionary<string, string>>(PublicData),
            PrivateData = PrivateData == Empty
                ? new Dictionary<string, IReadOnlyDictionary<string, string>>()
                : SqlJson.Read<Dictionary<string, Dictionary<string, string>>>(PrivateData).ToDictionary(p => p.Key, p => (IReadOnlyDictionary<string, string>)p.Value),
            Version = Version,
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt),
            UpdatedAt = DateTimeOffset.FromUnixTimeMilliseconds(UpdatedAt),
            CreationConfirmed = CreationConfirmed != 0,
        };
    }
}
