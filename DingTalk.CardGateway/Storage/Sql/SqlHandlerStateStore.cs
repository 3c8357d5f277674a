namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// Handler state (a poll's votes, an approval's decision) as JSON per handler and card. On PostgreSQL an update is an
/// upsert conditional on the version last read (a read that locks the row, skipped when this scope has just locked or
/// written it), so no vote is lost to a race; the change function runs again only when the version moved meanwhile.
/// On SQLite every change is inside the one writer's transaction, which keeps the state in memory
/// (<see cref="SqliteRowCache"/>): read once, changed there, written once per group commit.
/// </summary>
public sealed class SqlHandlerStateStore(StorageSession session, TimeProvider clock) : IHandlerStateStore
{
    private const string StateColumns = "state, version";
    private const string StateWhere = "handler = @handler AND card_id = @cardId";
    private const string SelectState = $"SELECT {StateColumns} FROM handler_state WHERE {StateWhere}";

    /// <summary>PostgreSQL: the states of a card named in an array, for a callback's claim to send along with its own (<see cref="StorageSession.WithNextClaim"/>).</summary>
    internal const string ReadingAll = "SELECT handler, state, version FROM handler_state WHERE handler = ANY(@handlers) AND card_id = @cardId";

    /// <summary>States this scope has read or written, by handler and card: hints that spare an update its read, checked by version and by the transaction they were taken in.</summary>
    private readonly Dictionary<(string Handler, string CardId), StateRow> _seen = [];

    public Task<TState?> GetAsync<TState>(string handler, string cardId, CancellationToken cancellationToken)
        where TState : class =>
        session.Gated ? session.GatedAsync(() => GetAsync<TState>(handler, cardId, cancellationToken), replayable: true) : GetNowAsync<TState>(handler, cardId, cancellationToken);

    private Task<TState?> GetNowAsync<TState>(string handler, string cardId, CancellationToken cancellationToken)
        where TState : class =>
        session.Rows is { } rows ? KeptAsync<TState>(rows, Key(handler, cardId), handler, cardId, cancellationToken)
        : Locked(handler, cardId) is { } locked ? Task.FromResult(locked.State is { } kept ? SqlJson.Read<TState>(kept) : null) // maybe not in the database yet
        : ReadWithClaim(handler, cardId) is { } read ? Task.FromResult(read.State is { } json ? SqlJson.Read<TState>(json) : null)
        : session.ReadAsync(
            async (connection, transaction) =>
            {
                var row = await ReadAsync(handler, cardId, lockRow: false, connection, transaction, cancellationToken);
                return row.State is { } json ? SqlJson.Read<TState>(json) : null;
            },
            cancellationToken);

    public Task<TState> UpdateAsync<TState>(string handler, string cardId, Func<TState?, TState> change, CancellationToken cancellationToken)
        where TState : class =>
        session.WriteAsync(
            async (connection, transaction) =>
            {
                if (session.Rows is { } rows)
                {
                    return await UpdateInMemoryAsync(rows, handler, cardId, change, cancellationToken); // in the unit this write opened, if none was open
                }

                // Read (locking the row where it exists) unless this scope just did, then one upsert that only lands on
                // the version read. A stale read, or two first changes on a new row, cannot both win: the loser finds a
                // version it did not read, writes nothing and goes round again on the committed, locked row.
                var current = Locked(handler, cardId) ?? await ReadAsync(handler, cardId, lockRow: true, connection, transaction, cancellationToken);
                if (session.CanWriteWithCommit && current.Version >= 0)
                {
                    // The row is locked by this transaction: its write cannot miss the version read, so it goes with the
                    // COMMIT — on a hot card, one round trip less that the card's next click waits for (StorageSession.WriteWithCommit).
                    var last = change(current.State is { } read ? SqlJson.Read<TState>(read) : null);
                    var json = SqlJson.Write(last);
                    session.WriteWithCommit(
                        "UPDATE handler_state SET state = @state, version = @version, updated_at = @now WHERE handler = @handler AND card_id = @cardId",
                        ("state", json),
                        ("version", current.Version + 1),
                        ("now", clock.GetUtcNow().ToUnixTimeMilliseconds()),
                        ("handler", handler),
                        ("cardId", cardId));
                    _seen[(handler, cardId)] = new StateRow { State = json, Version = current.Version + 1, Locked = true, Epoch = session.LockEpoch };
                    return last;
                }

                while (true)
                {
                    var updated = change(current.State is { } json ? SqlJson.Read<TState>(json) : null);
                    var state = SqlJson.Write(updated);
                    var written = await connection.ScalarAsync<long?>(
                        transaction,
                        """
                        INSERT INTO handler_state (handler, card_id, state, version, updated_at) VALUES (@handler, @cardId, @state, 1, @now)
                        ON CONFLICT (handler, card_id) DO UPDATE SET state = excluded.state, version = handler_state.version + 1, updated_at = excluded.updated_at
                        WHERE handler_state.version = @read
                        RETURNING version
                        """,
                        cancellationToken,
                        ("handler", handler),
                        ("cardId", cardId),
                        ("state", state),
                        ("now", clock.GetUtcNow().ToUnixTimeMilliseconds()),
                        ("read", current.Version));
                    if (written is { } version)
                    {
                        _seen[(handler, cardId)] = new StateRow { State = state, Version = version, Locked = true, Epoch = session.LockEpoch };
                        return updated;
                    }

                    current = await ReadAsync(handler, cardId, lockRow: true, connection, transaction, cancellationToken);
                }
            },
            cancellationToken,
            replayable: true);

    /// <summary>
    /// On SQLite's writer: the change runs on the kept state (read once, then kept), and the batch writes the state
    /// once as it commits — a hot poll's tally is no longer read, parsed and written by every vote.
    /// </summary>
    private async Task<TState> UpdateInMemoryAsync<TState>(SqliteRowCache rows, string handler, string cardId, Func<TState?, TState> change, CancellationToken cancellationToken)
        where TState : class
    {
        var key = Key(handler, cardId);
        var row = await KeptRowAsync<TState>(rows, key, handler, cardId, cancellationToken);
        var updated = change(As<TState>(row.Value));
        var version = Math.Max(row.Version, 0) + 1;
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var written = new SqliteRowCache.Row(updated, version, (connection, transaction) => connection.RunAsync(
            transaction,
            """
            INSERT INTO handler_state (handler, card_id, state, version, updated_at) VALUES (@handler, @cardId, @state, @version, @now)
            ON CONFLICT (handler, card_id) DO UPDATE SET state = excluded.state, version = excluded.version, updated_at = excluded.updated_at
            """,
            CancellationToken.None,
            ("handler", handler),
            ("cardId", cardId),
            ("state", SqlJson.Write(updated)),
            ("version", version),
            ("now", now)));
        rows.Set(key, written);

        // Should the unit leave the writer while its handler waits, this change is written again on coming back —
        // provided the state is still the one it changed (same version, same content: a row read again is a new object).
        session.Recorded(key, written, async () =>
        {
            var current = await KeptRowAsync<TState>(rows, key, handler, cardId, CancellationToken.None);
            return current.Version == row.Version && (ReferenceEquals(current.Value, row.Value) || SqlJson.Write(current.Value) == SqlJson.Write(row.Value));
        });
        return updated;
    }

    /// <summary>The state as the writer keeps it, read from the database the first time.</summary>
    private async Task<TState?> KeptAsync<TState>(SqliteRowCache rows, string key, string handler, string cardId, CancellationToken cancellationToken)
        where TState : class =>
        As<TState>((await KeptRowAsync<TState>(rows, key, handler, cardId, cancellationToken)).Value);

    private async Task<SqliteRowCache.Row> KeptRowAsync<TState>(SqliteRowCache rows, string key, string handler, string cardId, CancellationToken cancellationToken)
        where TState : class
    {
        if (rows.TryGet(key, out var row))
        {
            return row;
        }

        var read = await session.ReadAsync(
            (connection, transaction) => ReadAsync(handler, cardId, lockRow: false, connection, transaction, cancellationToken),
            cancellationToken);
        row = new SqliteRowCache.Row(read.State is { } json ? SqlJson.Read<TState>(json) : null, read.Version, Write: null); // a missing row is kept too, as version -1
        rows.Set(key, row);
        return row;
    }

    /// <summary>A kept state as <typeparamref name="TState"/>: the same type unless the state was read as another one (rare, so the slow way).</summary>
    private static TState? As<TState>(object? kept)
        where TState : class => kept switch
        {
            null => null,
            TState state => state,
            var other => SqlJson.Read<TState>(SqlJson.Write(other)),
        };

    /// <summary>
    /// The state as this scope locked or wrote it (PostgreSQL), while the lock holds: no one else can have changed it
    /// since, and a write kept for the commit is only here.
    /// </summary>
    private StateRow? Locked(string handler, string cardId) =>
        _seen.GetValueOrDefault((handler, cardId)) is { Locked: true } seen && seen.Epoch == session.LockEpoch ? seen : null;

    /// <summary>
    /// PostgreSQL: the state as read with this transaction's claim (<see cref="StorageSession.WithNextClaim"/>), if it was;
    /// else null. Either way a state of the callback's own card is learned, or kept, for the next claims
    /// (<see cref="CardStateNames"/> forgets a name no read keeps).
    /// </summary>
    private StateRow? ReadWithClaim(string handler, string cardId)
    {
        session.CardStateRead(handler, cardId);
        if (!session.TryTakeStateReadWithClaim(handler, cardId, out var state, out var version))
        {
            return null;
        }

        var row = version < 0 ? StateRow.None : new StateRow { State = state, Version = version, Locked = false, Epoch = session.LockEpoch };
        _seen[(handler, cardId)] = row;
        return row;
    }

    /// <summary>Length-prefixed: no handler and card pair spells another's key.</summary>
    private static string Key(string handler, string cardId) => $"state:{handler.Length}:{handler}/{cardId}";

    private async Task<StateRow> ReadAsync(
        string handler, string cardId, bool lockRow, System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction? transaction, CancellationToken cancellationToken)
    {
        var epoch = session.LockEpoch;
        Func<System.Data.Common.DbDataReader, StateRow> read = r => new StateRow { State = r.IsDBNull(0) ? null : r.GetString(0), Version = r.GetInt64(1), Locked = lockRow, Epoch = epoch };
        StateRow? row;
        if (lockRow && transaction is not null && session.TakeCardAlong(cardId))
        {
            // The card's own read for update, in the same round trip (StorageSession.LockCardAlong): the state first, as every click takes them.
            (row, var card) = await connection.FirstOrDefaultOfBothAsync(
                transaction,
                (session.Dialect.LockingInTurn(StateColumns, "handler_state", StateWhere, "@key"), read, [("handler", handler), ("cardId", cardId), ("key", Key(handler, cardId))]),
                SqlCardStore.LockingReadIfFree(session.Dialect, cardId),
                cancellationToken);
            session.LockedAlong(cardId, card);
        }
        else
        {
            row = await (lockRow
                ? connection.FirstOrDefaultAsync(transaction, session.Dialect.LockingInTurn(StateColumns, "handler_state", StateWhere, "@key"), read, cancellationToken, ("handler", handler), ("cardId", cardId), ("key", Key(handler, cardId)))
                : connection.FirstOrDefaultAsync(transaction, SelectState, read, cancellationToken, ("handler", handler), ("cardId", cardId)));
        }

        row ??= StateRow.None;
        _seen[(handler, cardId)] = row;
        return row;
    }

    private sealed class StateRow
    {
        /// <summary>No row yet: the upsert inserts, and updates nothing another scope inserted meanwhile.</summary>
        public static readonly StateRow None = new() { Version = -1 };

        public string? State { get; init; }

        public long Version { get; init; }

        /// <summary>Read with a row lock, or written, in this scope: only such a hint is worth writing against.</summary>
        public bool Locked { get; init; }

        /// <summary>The session's <see cref="StorageSession.LockEpoch"/> when read or written: past it, the lock (and maybe the write) is gone.</summary>
        public long Epoch { get; init; }
    }
}
