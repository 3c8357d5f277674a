using System.Data.Common;
using Dapper;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The unit of work of one scope (one callback, one admin call): while a transaction is open every store in the
/// scope writes through it, so recording a callback, changing handler state and queueing the update for everyone
/// commit together or not at all. Without one, each write is its own transaction. One operation at a time.
/// On PostgreSQL a session has its own connection and transaction; on SQLite it is a savepoint in the
/// <see cref="SqliteWriteBatcher"/>'s group commit, and its commit returns once that is durable.
/// </summary>
public sealed class StorageSession(GatewayDatabase database, SqliteWriteBatcher batcher, CardStateNames? cardStates = null) : IAsyncDisposable
{
    /// <summary>How long a handler must have been waiting on something else before its unit leaves SQLite's writer.</summary>
    internal static readonly TimeSpan IdleBeforeLeaving = TimeSpan.FromMilliseconds(1);

    private DbConnection? _connection;
    private DbTransaction? _transaction;
    private SqliteWriteBatcher.Unit? _unit;

    /// <summary>PostgreSQL: writes sent with the transaction's <c>COMMIT</c> (or its next <c>SAVEPOINT</c>), in one round trip (<see cref="WriteWithCommit"/>).</summary>
    private List<(string Sql, (string Name, object? Value)[] Parameters)>? _withCommit;

    /// <summary>What this SQLite unit wrote so far, in order, to write again should it leave the writer and come back.</summary>
    private List<Step>? _steps;
    private HandlerPhase? _phase;

    /// <summary>Held by each storage call while a handler runs, and by the unit leaving the writer: never both at once.</summary>
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _inCall;

    public SqlDialect Dialect => database.Dialect;

    public bool InTransaction => _transaction is not null || _phase is { Away: true };

    /// <summary>
    /// On SQLite, inside a transaction: the writer's kept rows — cards and handler states, and for the batch only the
    /// callbacks' records and the cards' open outbox entries — which stores read before the database and change
    /// instead of writing at once (<see cref="SqliteRowCache"/>). Null on PostgreSQL and outside a transaction.
    /// </summary>
    public SqliteRowCache? Rows => _unit?.Batch.Rows;

    private bool Batched => database.Dialect is SqliteDialect;

    /// <summary>
    /// Changes whenever a transaction begins or ends, or is rolled back to a savepoint: the row locks taken before may
    /// be gone (PostgreSQL releases a rolled-back savepoint's locks) and what was written with them undone. A store's
    /// hint of a row it locked or wrote stands only while this is unchanged.
    /// </summary>
    public long LockEpoch { get; private set; }

    /// <summary>PostgreSQL: the card to read for update along with the next in-turn read of one of its card-wide states (<see cref="LockCardAlong"/>).</summary>
    private string? _cardAlong;
    private long _cardAlongIn;

    /// <summary>The card read for update that way, and the <see cref="LockEpoch"/> it was read in.</summary>
    private (string Id, CardRecord? Card, long Epoch)? _lockedAlong;

    /// <summary>
    /// PostgreSQL, inside a transaction: the next read for update of a handler state of card <paramref name="cardId"/>
    /// itself (a poll's tally, an approval's decision — not a per-user state such as a ballot) reads the card for update
    /// too, in the same round trip, and the card store starts from that row (<see cref="CardLockedAlong"/>). A callback
    /// whose handler changes such a state locks the card at its commit anyway, in the same order (the state, then the
    /// card): taken together, a hot card's next click waits one round trip less for them. A no-op elsewhere.
    /// </summary>
    public void LockCardAlong(string cardId)
    {
        if (CanWriteWithCommit)
        {
            (_cardAlong, _cardAlongIn) = (cardId, LockEpoch);
        }
    }

    /// <summary>Whether a read for update of a state of <paramref name="cardId"/> should take the card along: once, in the epoch it was asked in.</summary>
    internal bool TakeCardAlong(string cardId)
    {
        if (_cardAlong is null || _cardAlongIn != LockEpoch || !CanWriteWithCommit || !string.Equals(_cardAlong, cardId, StringComparison.Ordinal))
        {
            return false;
        }

        _cardAlong = null;
        return true;
    }

    /// <summary>The card a state's read for update took along (null: no row).</summary>
    internal void LockedAlong(string cardId, CardRecord? card) => _lockedAlong = (cardId, card, LockEpoch);

    /// <summary>The card read for update along with a state, while that lock holds; null when there is none, or it is gone.</summary>
    internal CardRecord? CardLockedAlong(string cardId) =>
        _lockedAlong is { } along && along.Epoch == LockEpoch && string.Equals(along.Id, cardId, StringComparison.Ordinal) ? along.Card : null;

    /// <summary>The card store locked or wrote <paramref name="cardId"/> itself: what was read along of it no longer says what the row holds.</summary>
    internal void ForgetCardLockedAlong(string cardId)
    {
        if (_lockedAlong is { } along && string.Equals(along.Id, cardId, StringComparison.Ordinal))
        {
            _lockedAlong = null;
        }
    }

    /// <summary>PostgreSQL: what the next claim carries in its round trip (<see cref="WithNextClaim"/>).</summary>
    private (string CardId, string Savepoint, TimeSpan IdleLimit)? _withClaim;

    /// <summary>The card of the callback this transaction claims (<see cref="WithNextClaim"/>), for <see cref="CardStateRead"/>.</summary>
    private string? _callbackCard;

    /// <summary>What the claim's round trip read and marked, each taken once (<see cref="ClaimedWith"/>).</summary>
    private Claimed? _claimed;

    /// <summary>Statements sent through this session's open transaction (PostgreSQL): a savepoint marked early still stands for "now" only while this is unchanged.</summary>
    private long _sent;

    /// <summary>
    /// PostgreSQL, inside a transaction: the next claim of a callback (its <c>INSERT</c>) also reads card
    /// <paramref name="cardId"/> and marks <paramref name="savepoint"/>, in the same round trip — the two statements a
    /// callback sends right after its claim, each a round trip of its own before. The card store answers the next
    /// <see cref="ICardStore.FindAsync"/> of that card from it, and <see cref="SavepointAsync"/> of that name sends
    /// nothing while no other statement went since. A no-op elsewhere.
    /// </summary>
    /// <remarks>
    /// The card's handler states seen read for a callback's own card before (<see cref="CardStateNames"/>: a poll's tally)
    /// are read too, and the next plain read of each comes from there (<see cref="TryTakeStateReadWithClaim"/>).
    /// </remarks>
    /// <param name="cardId">The callback's card.</param>
    /// <param name="savepoint">The savepoint to mark after the reads.</param>
    /// <param name="idleLimit">
    /// The longest the transaction may sit idle (<c>idle_in_transaction_session_timeout</c>, set for it alone): past it
    /// PostgreSQL ends the session, and with it the claim and the row locks of a replica stopped inside the transaction.
    /// </param>
    public void WithNextClaim(string cardId, string savepoint, TimeSpan idleLimit)
    {
        _withClaim = CanWriteWithCommit ? (cardId, savepoint, idleLimit) : null;
        _callbackCard = cardId;
    }

    /// <summary>What the claim about to be sent should carry (<see cref="WithNextClaim"/>): once.</summary>
    internal (string CardId, string Savepoint, TimeSpan IdleLimit, string[] StateNames)? TakeWithClaim()
    {
        var with = _withClaim;
        _withClaim = null;
        return CanWriteWithCommit && with is { } w ? (w.CardId, w.Savepoint, w.IdleLimit, cardStates?.ForClaim() ?? []) : null;
    }

    /// <summary>
    /// The claim went with <paramref name="cardId"/>'s read (<paramref name="card"/>, null: no row), the reads of its states
    /// named <paramref name="stateNames"/> (<paramref name="states"/>: the rows found) and <paramref name="savepoint"/>.
    /// </summary>
    internal void ClaimedWith(string cardId, CardRecord? card, string savepoint, string[] stateNames, Dictionary<string, (string? State, long Version)> states) =>
        _claimed = new Claimed(cardId, card, new HashSet<string>(stateNames, StringComparer.Ordinal), states, savepoint, _sent, LockEpoch);

    /// <summary>
    /// A handler state of <paramref name="cardId"/> is read, with the claim or not: learned (or kept) as one of a callback's
    /// own card's, if it is (<see cref="CardStateNames"/>).
    /// </summary>
    internal void CardStateRead(string handler, string cardId)
    {
        if (cardStates is not null && string.Equals(cardId, _callbackCard, StringComparison.Ordinal))
        {
            cardStates.Seen(handler);
        }
    }

    /// <summary>
    /// State <paramref name="handler"/> of <paramref name="cardId"/> as read with this transaction's claim, if it was and is
    /// not taken yet (<paramref name="version"/> -1: no row). A plain read: as fresh as one sent a moment after the claim.
    /// </summary>
    internal bool TryTakeStateReadWithClaim(string handler, string cardId, out string? state, out long version)
    {
        if (ClaimedFor(cardId) is { } claimed && claimed.StateNames.Remove(handler))
        {
            (state, version) = claimed.States.Remove(handler, out var row) ? row : (null, -1); // taken: a later read goes to the database
            return true;
        }

        (state, version) = (null, -1);
        return false;
    }

    /// <summary>The card read with this transaction's claim, if it is <paramref name="cardId"/> and not taken yet.</summary>
    internal bool TryTakeCardReadWithClaim(string cardId, out CardRecord? card)
    {
        if (ClaimedFor(cardId) is { CardTaken: false } claimed)
        {
            claimed.CardTaken = true;
            card = claimed.Card;
            return true;
        }

        card = null;
        return false;
    }

    /// <summary>What this transaction's claim read of <paramref name="cardId"/>, while nothing has undone it.</summary>
    private Claimed? ClaimedFor(string cardId) =>
        _claimed is { } claimed && claimed.Epoch == LockEpoch && string.Equals(claimed.CardId, cardId, StringComparison.Ordinal) ? claimed : null;

    /// <summary>What a claim's round trip read (<see cref="WithNextClaim"/>): the card, the card's own states, and the savepoint it marked after <paramref name="Sent"/> statements.</summary>
    private sealed record Claimed(
        string CardId,
        CardRecord? Card,
        HashSet<string> StateNames,
        Dictionary<string, (string? State, long Version)> States,
        string? Savepoint,
        long Sent,
        long Epoch)
    {
        public bool CardTaken { get; set; }

        public string? Savepoint { get; set; } = Savepoint;
    }

    public async Task BeginAsync(CancellationToken cancellationToken)
    {
        if (_transaction is not null)
        {
            throw new InvalidOperationException("The storage session already has an open transaction.");
        }

        LockEpoch++;
        _withClaim = null;

        if (Batched)
        {
            _unit = await batcher.EnterAsync(cancellationToken);
            _transaction = _unit.Transaction;
            _steps?.Clear();
            return;
        }

        _connection ??= await database.OpenAsync(cancellationToken);
        _transaction = await database.Dialect.BeginWriteAsync(_connection, cancellationToken);
    }

    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        if (_phase is not null)
        {
            throw new InvalidOperationException("A handler is still running in this session: end it (EndHandlerAsync) first.");
        }

        var transaction = _transaction ?? throw new InvalidOperationException("No transaction is open.");
        _transaction = null;
        LockEpoch++;
        if (_unit is { } unit)
        {
            _unit = null;
            await unit.CommitAsync();
            return;
        }

        try
        {
            if (_withCommit is { Count: > 0 })
            {
                await SendKeptThenAsync(transaction, "COMMIT", cancellationToken); // the driver sees the transaction end (ReadyForQuery says idle): disposing it sends nothing more
            }
            else
            {
                await transaction.CommitAsync(cancellationToken);
            }
        }
        finally
        {
            _withCommit?.Clear();
            await transaction.DisposeAsync();
            await ReleaseConnectionAsync();
        }
    }

    /// <summary>PostgreSQL, inside a transaction: a write may go with its <c>COMMIT</c> (<see cref="WriteWithCommit"/>).</summary>
    public bool CanWriteWithCommit => _transaction is not null && _unit is null; // SQLite's transactions are its writer's units

    /// <summary>
    /// PostgreSQL: <paramref name="sql"/> is written with the open transaction's <c>COMMIT</c>, in the same round trip,
    /// instead of in one of its own now — for writes under locks the transaction holds, which nothing after them in the
    /// transaction reads from the database (a locked handler state, a callback's stored card, its outbox entry and its
    /// outcome), in the order they were kept; a savepoint marked meanwhile writes them first (<see cref="SavepointAsync"/>).
    /// Should one fail, the transaction commits nothing and the commit throws. Each round trip of a hot card's vote is one
    /// more its next vote waits for the card's lock. Only where <see cref="CanWriteWithCommit"/>.
    /// </summary>
    public void WriteWithCommit(string sql, params (string Name, object? Value)[] parameters)
    {
        if (!CanWriteWithCommit)
        {
            throw new InvalidOperationException("Only a PostgreSQL transaction writes with its commit.");
        }

        (_withCommit ??= []).Add((sql, parameters));
    }

    /// <summary>The writes kept for the commit, then <paramref name="last"/> (<c>COMMIT</c>, or a <c>SAVEPOINT</c>), as one batch: one round trip.</summary>
    private async Task SendKeptThenAsync(DbTransaction transaction, string last, CancellationToken cancellationToken)
    {
        await using var batch = Connection.CreateBatch();
        batch.Transaction = transaction;
        foreach (var (sql, parameters) in _withCommit!)
        {
            batch.Add(sql, parameters);
        }

        batch.Add(last, []);
        await batch.ExecuteNonQueryAsync(cancellationToken);
        _withCommit.Clear();
    }

    public async Task RollbackAsync()
    {
        if (_phase is { } phase)
        {
            _phase = null;
            phase.End();
            batcher.ReleaseClaim(phase.CallbackId); // when away from the writer, nothing else to undo
        }

        var transaction = _transaction;
        _transaction = null;
        _withCommit?.Clear();
        LockEpoch++;
        if (_unit is { } unit)
        {
            _unit = null;
            await unit.RollbackAsync();
            return;
        }

        if (transaction is not null)
        {
            try
            {
                await transaction.RollbackAsync(CancellationToken.None);
            }
            catch (Exception ex) when (ConnectionLost && StorageFailure.Of(ex) is not null)
            {
                // The server ended the transaction with its connection (a restart, a network cut): nothing is left to roll
                // back, and the failure that broke it is the one to say, not this one hiding it.
            }
            finally
            {
                await transaction.DisposeAsync();
                await ReleaseConnectionAsync();
            }
        }
    }

    /// <summary>
    /// PostgreSQL: the connection goes back to the pool as its transaction ends. Kept, it sat idle while the scope went
    /// on — a redelivery looking for the first answer, an operator's update waiting for its entry — each on a second
    /// connection of their own: with a pool of N, N of them held every connection and waited for one more.
    /// </summary>
    private async ValueTask ReleaseConnectionAsync()
    {
        if (_connection is { } connection)
        {
            _connection = null;
            await connection.DisposeAsync();
        }
    }

    /// <summary>Marks a point the open transaction can return to, keeping what came before it.</summary>
    /// <remarks>
    /// PostgreSQL: writes kept for the commit (<see cref="WriteWithCommit"/>) are written first, in the same round trip.
    /// They came before the savepoint, so they must be in the database before it: written later, after a rollback to
    /// it, they would be undone by the next rollback to it or to an earlier one. So whatever is kept comes after the
    /// newest savepoint, and a rollback to any savepoint drops it all (<see cref="RollbackToAsync"/>).
    /// </remarks>
    public Task SavepointAsync(string name, CancellationToken cancellationToken)
    {
        var transaction = OpenTransaction;
        if (_unit is { } unit)
        {
            (_steps ??= []).Add(new Step(name, null, null, null));
            return unit.Batch.SavepointAsync(unit.Connection, name);
        }

        if (_claimed is { } claimed && claimed.Savepoint == name && claimed.Epoch == LockEpoch && claimed.Sent == _sent && _withCommit is not { Count: > 0 })
        {
            claimed.Savepoint = null;
            return Task.CompletedTask; // marked with the claim, and nothing went since (WithNextClaim)
        }

        _sent++;
        return _withCommit is { Count: > 0 }
            ? SendKeptThenAsync(transaction, $"SAVEPOINT {name}", cancellationToken)
            : Connection.RunAsync(transaction, $"SAVEPOINT {name}", cancellationToken);
    }

    /// <summary>Undoes what the open transaction did since <see cref="SavepointAsync"/>.</summary>
    public Task RollbackToAsync(string name, CancellationToken cancellationToken)
    {
        var transaction = OpenTransaction;
        _withCommit?.Clear(); // kept since the newest savepoint (SavepointAsync wrote what came before it), so since this one too
        LockEpoch++;
        _sent++;
        if (_unit is { } unit)
        {
            if (_steps?.FindLastIndex(s => s.Savepoint == name) is >= 0 and var at)
            {
                _steps.RemoveRange(at + 1, _steps.Count - at - 1);
            }

            return unit.RollbackToAsync(name);
        }

        return Connection.RunAsync(transaction, $"ROLLBACK TO SAVEPOINT {name}", cancellationToken);
    }

    /// <summary>Runs <paramref name="work"/> in the open transaction, or in a transaction of its own.</summary>
    /// <remarks>In the open transaction (every statement of a callback) the work's own task is returned, without a state machine around it.</remarks>
    /// <param name="work">The statements, on the session's connection and transaction.</param>
    /// <param name="cancellationToken">Cancels a transaction of its own, when there is none open.</param>
    /// <param name="replayable">
    /// The work records what it writes (<see cref="Recorded"/>), so a handler's unit may leave SQLite's writer after it
    /// and write it again on coming back; any other write while a handler runs keeps the unit on the writer.
    /// </param>
    public Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken, bool replayable = false)
    {
        if (Gated)
        {
            return CallAsync(() => WriteAsync(work, cancellationToken), replayable);
        }

        if (_transaction is not null)
        {
            _sent++;
            return work(Connection, _transaction);
        }

        return WriteAloneAsync(work, cancellationToken);
    }

    /// <summary>
    /// One statement in a transaction of its own, for work outside a callback (the outbox dispatcher, retention): on
    /// SQLite a turn in the callbacks' group commit rather than a second writer fighting them for the lock (whose
    /// busy-wait sleeps stalled both sides for milliseconds).
    /// </summary>
    /// <returns>Rows affected.</returns>
    public static async Task<int> ExecuteAsync(GatewayDatabase database, SqliteWriteBatcher batcher, string sql, object parameters, CancellationToken cancellationToken)
    {
        await using var session = new StorageSession(database, batcher);
        return await session.WriteAsync(
            (connection, transaction) => connection.ExecuteAsync(new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken)),
            cancellationToken);
    }

    /// <summary>
    /// Reads through the open transaction (seeing its own writes), or on a connection of its own — then returns only
    /// once what it may have seen is durable (<see cref="DurableAsync"/>).
    /// </summary>
    public Task<T> ReadAsync<T>(Func<DbConnection, DbTransaction?, Task<T>> work, CancellationToken cancellationToken)
    {
        if (Gated)
        {
            return CallAsync(() => ReadAsync(work, cancellationToken), replayable: true);
        }

        if (_transaction is not null)
        {
            _sent++;
            return work(Connection, _transaction);
        }

        return ReadCommittedAsync(work, cancellationToken);
    }

    /// <summary>
    /// Completes once every commit made so far is on disk. On SQLite a read on a connection of its own may see a
    /// group commit whose fsync is still under way (<see cref="SqliteWalSync"/>); a read whose result leaves the
    /// process — an answer, a send to DingTalk — awaits this first. At once on PostgreSQL, and whenever SQLite is idle.
    /// </summary>
    public Task DurableAsync() => batcher.DurableAsync();

    private async Task<T> WriteAloneAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        await BeginAsync(cancellationToken);
        try
        {
            var result = await work(Connection, _transaction!);
            await CommitAsync(cancellationToken);
            return result;
        }
        catch
        {
            await RollbackAsync();
            throw;
        }
    }

    /// <summary>
    /// Reads committed state on a connection of its own, whatever this session has open (another scope or replica may
    /// have written it), and returns once what it may have seen is durable (<see cref="DurableAsync"/>). Beside the
    /// writer (<see cref="SqliteWriteBatcher.ReadBesideAsync{T}"/>) unless this session holds it.
    /// </summary>
    public async Task<T> ReadCommittedAsync<T>(Func<DbConnection, DbTransaction?, Task<T>> work, CancellationToken cancellationToken)
    {
        T result;
        if (_unit is null)
        {
            result = await batcher.ReadBesideAsync(connection => work(connection, null), cancellationToken);
        }
        else
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            result = await work(connection, null);
        }

        await batcher.DurableAsync();
        return result;
    }

    // ---- A handler waiting on something else leaves SQLite's writer ----
    //
    // On SQLite every unit of work holds the one writer from its claim to its commit, handler included: a handler awaiting
    // an HTTP call for a second would hold every other click of every card for that second. So while a handler runs
    // (BeginHandler … EndHandlerAsync) and waits on something that is not this session, the unit leaves the writer: it is
    // rolled back, its claim held in the process meanwhile (SqliteWriteBatcher.HoldClaim), and what it wrote is kept as
    // steps. Its next storage call (or the handler's end) takes the writer again and writes the steps again — the claim,
    // the savepoint, each handler state as changed — provided no state it changed was changed meanwhile by another click
    // (then the handler's result rests on a state that is no longer there: a conflict, and the handler counts as failed).
    // All of it still commits as one transaction, so a crash loses the whole callback or nothing, as before. Only writes
    // that record their steps (the claim, handler state) can be written again: a handler that writes anything else (a
    // card, the outbox) keeps its unit on the writer, as before — but first lets the batch it is in commit what the
    // units before it kept (StandAloneAsync), so their answers do not wait for it. On PostgreSQL none of this is needed:
    // a unit locks only its card's rows.

    /// <summary>A storage call from the running handler, outside any other: it takes the gate.</summary>
    public bool Gated => _phase is not null && !_inCall;

    /// <summary>The running handler's unit has left the writer.</summary>
    internal bool Away => _phase is { Away: true };

    /// <summary>
    /// Keeps what a store just set in SQLite's kept rows as a step of this unit; <paramref name="unchanged"/>, when given,
    /// tells on coming back whether the row the write was based on is still the current one.
    /// </summary>
    public void Recorded(string key, SqliteRowCache.Row row, Func<Task<bool>>? unchanged = null)
    {
        if (_unit is not null)
        {
            (_steps ??= []).Add(new Step(null, key, row, unchanged));
        }
    }

    /// <summary>The claim of <paramref name="callbackId"/> is held in the process while a unit is away: a redelivery meanwhile is refused it.</summary>
    public bool IsClaimHeld(string callbackId) => batcher.IsClaimHeld(callbackId);

    /// <summary>A handler starts, in the open SQLite unit that claimed <paramref name="callbackId"/>; a no-op on PostgreSQL.</summary>
    public void BeginHandler(string callbackId)
    {
        if (_unit is not null)
        {
            _phase = new HandlerPhase(callbackId);
        }
    }

    /// <summary>
    /// Until <paramref name="handling"/> completes: whenever the handler has been waiting on something other than this
    /// session for <see cref="IdleBeforeLeaving"/>, the unit leaves the writer (see above).
    /// </summary>
    /// <returns>
    /// True when it stopped because the handler wrote something that cannot be written again (a card, an outbox entry):
    /// its unit then stays on SQLite's writer, and every other click waits for it, until the handler ends.
    /// </returns>
    public async Task<bool> LeaveWriterWhileWaitingAsync(Task handling)
    {
        if (_phase is not { } phase)
        {
            return false;
        }

        while (!handling.IsCompleted && !phase.Ended)
        {
            var calls = phase.Calls;
            await Task.WhenAny(handling, Task.Delay(IdleBeforeLeaving));
            if (!phase.Replayable)
            {
                return true; // it wrote something that cannot be written again: it stays on the writer to the end
            }

            if (handling.IsCompleted || !await _gate.WaitAsync(0))
            {
                continue; // done, or a storage call is under way
            }

            try
            {
                if (phase.Ended || phase.Away || !phase.Replayable || phase.Calls != calls || _unit is not { } unit)
                {
                    continue;
                }

                batcher.HoldClaim(phase.CallbackId);
                phase.Leave();
                _unit = null;
                _transaction = null;
                await unit.RollbackAsync(); // the writer goes to the next unit
            }
            finally
            {
                _gate.Release();
            }

            if (!phase.Replayable)
            {
                return true;
            }

            await Task.WhenAny(handling, phase.Back!.Task);
        }

        return false;
    }

    /// <summary>
    /// The handler has returned: its unit takes the writer again if it had left it. False when a state it changed was
    /// changed meanwhile by another click: what it wrote is undone (back to its savepoint), and its result must not be used.
    /// </summary>
    public async ValueTask<bool> EndHandlerAsync()
    {
        if (_phase is not { } phase)
        {
            return true;
        }

        await _gate.WaitAsync();
        try
        {
            _inCall = true;
            await ComeBackAsync(phase);
            _phase = null;
            phase.End();
            return !phase.Conflicted;
        }
        finally
        {
            _inCall = false;
            _gate.Release();
        }
    }

    /// <summary>A store's call that reads the writer's kept rows directly (not through <see cref="ReadAsync{T}"/>), taking the gate while a handler runs.</summary>
    public Task<T> GatedAsync<T>(Func<Task<T>> call, bool replayable) => Gated ? CallAsync(call, replayable) : call();

    /// <remarks>
    /// While the unit is on the writer and no other call holds the gate, a call that completes at once (SQLite's always
    /// do) costs a try of the gate and no state machine: a handler that never waits on anything else barely notices.
    /// </remarks>
    private Task<T> CallAsync<T>(Func<Task<T>> call, bool replayable)
    {
        var phase = _phase!;
        if (!_gate.Wait(0))
        {
            return CallSlowAsync(call, replayable);
        }

        // Read holding the gate: the unit may have left between any earlier look and taking it. A first write that cannot
        // be written again, in a batch other units left already, first lets that batch commit (StandAloneAsync).
        if (phase.Away || (!replayable && phase.Replayable && _unit is { Batch.Units: > 0 }))
        {
            _gate.Release();
            return CallSlowAsync(call, replayable);
        }

        Task<T> task;
        try
        {
            _inCall = true;
            phase.Calls++;
            if (!replayable)
            {
                phase.Replayable = false;
            }

            task = call();
        }
        catch
        {
            _inCall = false;
            _gate.Release();
            throw;
        }

        if (task.IsCompleted)
        {
            _inCall = false;
            _gate.Release();
            return task;
        }

        return ReleaseWhenDoneAsync(task);
    }

    private async Task<T> ReleaseWhenDoneAsync<T>(Task<T> task)
    {
        try
        {
            return await task;
        }
        finally
        {
            _inCall = false;
            _gate.Release();
        }
    }

    private async Task<T> CallSlowAsync<T>(Func<Task<T>> call, bool replayable)
    {
        var phase = _phase!;
        await _gate.WaitAsync();
        try
        {
            _inCall = true;
            phase.Calls++;
            await ComeBackAsync(phase);
            if (phase.Conflicted)
            {
                throw new HandlerStateConflictException(phase.ConflictKey!);
            }

            if (!replayable)
            {
                if (phase.Replayable)
                {
                    await StandAloneAsync(phase);
                }

                phase.Replayable = false;
            }

            return await call();
        }
        finally
        {
            _inCall = false;
            _gate.Release();
        }
    }

    /// <summary>Holding the gate: the writer again, and the unit's steps written again (unless a state changed meanwhile).</summary>
    private async Task ComeBackAsync(HandlerPhase phase)
    {
        if (!phase.Away)
        {
            return;
        }

        var unit = await batcher.EnterAsync(CancellationToken.None);
        _unit = unit;
        _transaction = unit.Transaction;
        phase.Away = false;
        try
        {
            await WriteStepsAgainAsync(unit, phase);
        }
        finally
        {
            batcher.ReleaseClaim(phase.CallbackId); // the claim is in the writer's rows again
            phase.Back?.TrySetResult();
        }
    }

    /// <summary>
    /// Holding the gate, on the writer, before the handler's first write that cannot be written again: from then on its
    /// unit stays on the writer whenever the handler waits, and the batch it is in commits only once it lets go. Units
    /// that left the writer before it in that batch have been answered or are about to be — once their batch is on
    /// disk, which would then wait for this handler. So that batch commits first: this unit is undone, the batch
    /// committed, and the unit's steps (all of them can be written again, so far) written again in a batch of its own,
    /// without letting go of the writer, so no other unit comes in between.
    /// </summary>
    private async Task StandAloneAsync(HandlerPhase phase)
    {
        if (_unit is not { Batch.Units: > 0 } unit)
        {
            return;
        }

        LockEpoch++;
        _unit = await unit.RestartAloneAsync();
        _transaction = _unit.Transaction;
        await WriteStepsAgainAsync(_unit, phase);
        if (phase.Conflicted)
        {
            throw new HandlerStateConflictException(phase.ConflictKey!); // cannot happen: nobody wrote in between
        }
    }

    /// <summary>The unit's steps written again on <paramref name="unit"/> — unless a state one changed was changed meanwhile (a conflict).</summary>
    private async Task WriteStepsAgainAsync(SqliteWriteBatcher.Unit unit, HandlerPhase phase)
    {
        string? savepoint = null;
        foreach (var step in _steps ?? [])
        {
            if (step.Savepoint is { } name)
            {
                await unit.Batch.SavepointAsync(unit.Connection, name);
                savepoint = name;
            }
            else if (step.Unchanged is { } unchanged && !await unchanged())
            {
                phase.Conflicted = true;
                phase.ConflictKey = step.Key;
                if (savepoint is not null)
                {
                    await unit.RollbackToAsync(savepoint);
                }

                break;
            }
            else
            {
                unit.Batch.Rows.Set(step.Key!, step.Row!);
            }
        }
    }

    /// <summary>Rolls back what is uncommitted and gives the connection back; the session opens a new one if used again.</summary>
    public async ValueTask DisposeAsync()
    {
        await RollbackAsync();
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }
    }

    private DbConnection Connection => _unit?.Connection ?? _connection!;

    /// <summary>
    /// PostgreSQL: this session's connection broke under it (the server restarted or ended it, the network to it was cut),
    /// and its transaction with it: nothing it wrote can be committed, nor anything more be written in it.
    /// </summary>
    public bool ConnectionLost => _unit is null && _connection is { State: not System.Data.ConnectionState.Open };

    /// <summary>A savepoint, or a kept row set (and how to tell whether the row it was based on is still current).</summary>
    private sealed record Step(string? Savepoint, string? Key, SqliteRowCache.Row? Row, Func<Task<bool>>? Unchanged);

    private sealed class HandlerPhase(string callbackId)
    {
        public string CallbackId { get; } = callbackId;

        /// <summary>Storage calls so far: unchanged over a wait, the handler was waiting on something else.</summary>
        public int Calls { get; set; }

        /// <summary>Everything written since the claim can be written again (only recorded writes so far).</summary>
        public bool Replayable { get; set; } = true;

        public bool Away { get; set; }

        public bool Conflicted { get; set; }

        public string? ConflictKey { get; set; }

        public bool Ended { get; private set; }

        /// <summary>Completes when the unit comes back to the writer after it last left (or the phase ends).</summary>
        public TaskCompletionSource? Back { get; private set; }

        public void Leave()
        {
            Back = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Away = true;
        }

        public void End()
        {
            Ended = true;
            Back?.TrySetResult();
        }
    }

    private DbTransaction OpenTransaction => _transaction ?? throw new InvalidOperationException("No transaction is open.");
}
