using BenchmarkDotNet.Attributes;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.Data.Sqlite;

namespace DingTalk.CardGateway.Benchmarks;

/// <summary>
/// The floor under a vote: single statements of the callback path on the writer connection's kept prepared
/// statements (SQLitePCLRaw), inside one open transaction (no fsync), on the gateway's schema.
/// </summary>
[MemoryDiagnoser]
public class StatementBenchmarks
{
    private string _folder = "";
    private SqliteConnection _connection = null!;
    private SqliteTransaction _transaction = null!;
    private long _n;

    /// <summary>Callback ids that grow with time (the signature timestamp first) or scatter (a bare hash).</summary>
    [Params(false, true)]
    public bool TimeOrderedIds { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _folder = Directory.CreateTempSubdirectory("cardgateway-statements-").FullName;
        _connection = new SqliteConnection($"Data Source={Path.Combine(_folder, "bench.db")};Pooling=False");
        await _connection.OpenAsync();
        await new SqliteDialect().PrepareAsync(_connection, CancellationToken.None);
        foreach (var migration in Schema.Migrations(new SqliteDialect()))
        {
            await _connection.RunAsync(null, migration.Sql, CancellationToken.None);
        }

        await _connection.RunAsync(null, "INSERT INTO cards (id, kind, template_id, public_data, private_data, version, created_at, updated_at) VALUES ('c', 'Advanced', 't', '{\"question\":\"Bench?\",\"total\":\"1\"}', '{}', 1, 0, 0)", CancellationToken.None);
        await _connection.RunAsync(null, "INSERT INTO handler_state (handler, card_id, state, version, updated_at) VALUES ('poll', 'c', '{\"counts\":{\"A\":1}}', 1, 0)", CancellationToken.None);
        _connection.KeepPrepared();
        _transaction = _connection.BeginTransaction();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _transaction.Rollback();
        _connection.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark]
    public Task<int> InsertCallback()
    {
        var n = Interlocked.Increment(ref _n);
        return _connection.RunAsync(
            _transaction,
            "INSERT INTO callbacks (callback_id, card_id, transport, type, user_id, action, action_ids, params, received_at, outcome, handler, answer_json, completed_at) VALUES (@CallbackId, @CardId, @Transport, @Type, @UserId, @Action, @ActionIds, @Params, @ReceivedAt, @Outcome, @Handler, @AnswerJson, @CompletedAt) ON CONFLICT (callback_id) DO NOTHING",
            CancellationToken.None,
            ("CallbackId", TimeOrderedIds ? $"{1_700_000_000_000 + n}.{Convert.ToBase64String(BitConverter.GetBytes(n * 2654435761))}" : Convert.ToBase64String(BitConverter.GetBytes(n * 2654435761))),
            ("CardId", "c"),
            ("Transport", "Http"),
            ("Type", "ActionCallback"),
            ("UserId", "u42"),
            ("Action", "vote"),
            ("ActionIds", "[\"vote_btn\"]"),
            ("Params", "{\"action\":\"vote\",\"option\":\"A\"}"),
            ("ReceivedAt", n),
            ("Outcome", "Pending"),
            ("Handler", null),
            ("AnswerJson", null),
            ("CompletedAt", null));
    }

    [Benchmark]
    public Task<string?> SelectCard() =>
        _connection.FirstOrDefaultAsync(_transaction, "SELECT public_data FROM cards WHERE id = @id", r => r.GetString(0), CancellationToken.None, ("id", "c"));

    [Benchmark]
    public Task<long?> UpsertState() =>
        _connection.ScalarAsync<long?>(
            _transaction,
            "INSERT INTO handler_state (handler, card_id, state, version, updated_at) VALUES (@handler, @cardId, @state, 1, @now) ON CONFLICT (handler, card_id) DO UPDATE SET state = excluded.state, version = handler_state.version + 1, updated_at = excluded.updated_at RETURNING version",
            CancellationToken.None,
            ("handler", "poll"),
            ("cardId", "c"),
            ("state", "{\"counts\":{\"A\":2}}"),
            ("now", 1L));

    /// <summary>A unit's savepoint and its release, as the writer runs them: two statements (one text of both ran only the first).</summary>
    [Benchmark]
    public async Task Savepoint()
    {
        await _connection.RunAsync(_transaction, "SAVEPOINT unit", CancellationToken.None);
        await _connection.RunAsync(_transaction, "RELEASE unit", CancellationToken.None);
    }
}
