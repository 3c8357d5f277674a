using System.Data.Common;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The cards and handler states SQLite's one writer has read or written, kept between units of work, with writes
/// held back to the end of the batch: a hot card's tally is then read from memory and written once per group commit
/// instead of read and written by every click. For the open batch only (<see cref="Row.UntilCommit"/>) it also keeps
/// each callback's record, written once with its outcome, and each card's open outbox entry, its payload written once.
/// Used only under the writer (<see cref="SqliteWriteBatcher"/>), one unit at a time, so it needs no locks.
/// </summary>
/// <remarks>
/// It is the truth only because this process is the database's one writer (<see cref="GatewayDatabase"/> keeps a
/// second gateway out of the file). Every row changed in the open batch is here until the batch writes it, just before COMMIT
/// (<see cref="FlushAsync"/>), so COMMIT stays all or nothing. Savepoints are mirrored by an undo log: rolling a unit
/// or a handler back restores the rows it changed; a batch that fails empties the cache (the database rolled back).
/// </remarks>
public sealed class SqliteRowCache
{
    /// <summary>Rows kept at most, clean ones: past it the cache starts empty again after a commit.</summary>
    public const int Capacity = 50_000;

    private readonly Dictionary<string, Row> _rows = new(StringComparer.Ordinal);
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private readonly List<(string Key, Row? Previous)> _undo = [];
    private readonly Dictionary<string, int> _savepoints = new(StringComparer.Ordinal);

    private readonly HashSet<string> _untilCommit = new(StringComparer.Ordinal);

    /// <summary>A row as the writer last left it.</summary>
    /// <param name="Value">The store's own record (a <see cref="CardRecord"/>, a handler's state); immutable.</param>
    /// <param name="Version">The row's version column.</param>
    /// <param name="Write">Writes it to the database; null when the database has it already.</param>
    /// <param name="UntilCommit">
    /// Kept only for the open batch (a callback's record, written once with its outcome): gone once the batch has
    /// written it, so rows nobody reads again do not crowd out the hot ones.
    /// </param>
    public sealed record Row(object? Value, long Version, Func<DbConnection, DbTransaction, Task>? Write, bool UntilCommit = false);

    public int Count => _rows.Count;

    /// <summary>Rows changed in the open batch, not yet written.</summary>
    public int Dirty => _dirty.Count;

    public bool TryGet(string key, out Row row) => _rows.TryGetValue(key, out row!);

    /// <summary>Keeps <paramref name="row"/> as the current one; undone by a rollback to a savepoint taken before.</summary>
    public void Set(string key, Row row)
    {
        _undo.Add((key, _rows.GetValueOrDefault(key)));
        Put(key, row);
    }

    /// <summary>A savepoint of the writer's transaction, taken under <paramref name="name"/>.</summary>
    public void Savepoint(string name) => _savepoints[name] = _undo.Count;

    /// <summary>The transaction rolled back to savepoint <paramref name="name"/>: so do the rows.</summary>
    public void RollbackTo(string name)
    {
        if (!_savepoints.TryGetValue(name, out var mark))
        {
            Clear(); // a savepoint not seen here: nothing known can be trusted
            return;
        }

        for (var i = _undo.Count - 1; i >= mark; i--)
        {
            var (key, previous) = _undo[i];
            if (previous is null)
            {
                _rows.Remove(key);
                _dirty.Remove(key);
                _untilCommit.Remove(key);
            }
            else
            {
                Put(key, previous);
            }
        }

        _undo.RemoveRange(mark, _undo.Count - mark);
        foreach (var (savepoint, at) in _savepoints.ToList())
        {
            if (at > mark)
            {
                _savepoints.Remove(savepoint);
            }
        }
    }

    /// <summary>The unit released its savepoint: its changes can no longer be undone alone (only with the whole batch).</summary>
    public void Release()
    {
        _undo.Clear();
        _savepoints.Clear();
    }

    /// <summary>Writes every row changed in the batch, in the batch's transaction: call it just before COMMIT.</summary>
    public async Task FlushAsync(DbConnection connection, DbTransaction transaction)
    {
        foreach (var key in _dirty)
        {
            var row = _rows[key];
            await row.Write!(connection, transaction);
            if (!row.UntilCommit)
            {
                _rows[key] = row with { Write = null }; // kept on, clean (rows kept until commit go just below)
            }
        }

        _dirty.Clear();
        foreach (var key in _untilCommit)
        {
            _rows.Remove(key);
        }

        _untilCommit.Clear();
        Release();
        if (_rows.Count > Capacity)
        {
            _rows.Clear(); // all clean now; the hot rows come back with the next clicks
        }
    }

    /// <summary>The batch failed (the database rolled it back), or the writer's connection closed: forget everything.</summary>
    public void Clear()
    {
        _rows.Clear();
        _dirty.Clear();
        _untilCommit.Clear();
        Release();
    }

    private void Put(string key, Row row)
    {
        _rows[key] = row;
        if (row.Write is null)
        {
            _dirty.Remove(key);
        }
        else
        {
            _dirty.Add(key);
        }

        if (row.UntilCommit)
        {
            _untilCommit.Add(key);
        }
        else
        {
            _untilCommit.Remove(key);
        }
    }
}
