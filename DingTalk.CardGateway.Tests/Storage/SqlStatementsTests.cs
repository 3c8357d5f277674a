using DingTalk.CardGateway.Storage.Sql;
using Microsoft.Data.Sqlite;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>The writer connection's kept prepared statements (SQLitePCLRaw) behave exactly like fresh commands.</summary>
public sealed class SqlStatementsTests : IAsyncLifetime
{
    private const string Insert = "INSERT INTO t (id, name, n) VALUES (@id, @name, @n)";
    private const string Select = "SELECT name, n FROM t WHERE id = @id";
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"statements-{Guid.NewGuid():N}.db");
    private SqliteConnection _connection = null!;

    public async Task InitializeAsync()
    {
        _connection = new SqliteConnection($"Data Source={_file};Pooling=False");
        await _connection.OpenAsync();
        await _connection.RunAsync(null, "CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT, n INTEGER)", default);
    }

    public async Task DisposeAsync()
    {
        await _connection.DisposeAsync();
        File.Delete(_file);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_statement_runs_again_with_new_values(bool kept)
    {
        Keep(kept);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(1, await _connection.RunAsync(null, Insert, default, ("id", $"k{i}"), ("name", $"name {i}"), ("n", i * 10)));
        }

        for (var i = 2; i >= 0; i--)
        {
            var row = await _connection.FirstOrDefaultAsync(null, Select, r => (Name: r.GetString(0), N: r.GetInt64(1)), default, ("id", $"k{i}"));
            Assert.Equal(($"name {i}", i * 10L), row);
        }

        Assert.Equal(default, await _connection.FirstOrDefaultAsync(null, Select, r => (Name: r.GetString(0), N: r.GetInt64(1)), default, ("id", "none")));
        Assert.Equal(3L, await _connection.ScalarAsync<long?>(null, "SELECT count(*) FROM t WHERE n >= @min", default, ("min", 0)));
        Assert.Equal(1L, await _connection.ScalarAsync<long?>(null, "SELECT count(*) FROM t WHERE n >= @min", default, ("min", 20)));
        Assert.Null(await _connection.ScalarAsync<long?>(null, "SELECT n FROM t WHERE id = @id", default, ("id", "none")));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_statement_that_failed_runs_again(bool kept)
    {
        Keep(kept);
        await _connection.RunAsync(null, Insert, default, ("id", "dup"), ("name", "first"), ("n", 1));

        await Assert.ThrowsAsync<SqliteException>(() => _connection.RunAsync(null, Insert, default, ("id", "dup"), ("name", "second"), ("n", 2)));

        Assert.Equal(1, await _connection.RunAsync(null, Insert, default, ("id", "next"), ("name", "third"), ("n", 3)));
        Assert.Equal("first", await _connection.ScalarAsync<string>(null, "SELECT name FROM t WHERE id = @id", default, ("id", "dup")));
    }

    [Fact]
    public async Task Null_is_stored_as_NULL_and_a_value_after_it_as_the_value()
    {
        Keep(true);
        await _connection.RunAsync(null, Insert, default, ("id", "a"), ("name", null), ("n", null));
        await _connection.RunAsync(null, Insert, default, ("id", "b"), ("name", "bee"), ("n", 2));

        Assert.True(await _connection.FirstOrDefaultAsync(null, Select, r => r.IsDBNull(0) && r.IsDBNull(1), default, ("id", "a")));
        Assert.Equal("bee", await _connection.FirstOrDefaultAsync(null, Select, r => r.GetString(0), default, ("id", "b")));
    }

    [Fact]
    public async Task Parameters_are_matched_by_name_whatever_their_order()
    {
        Keep(true);
        await _connection.RunAsync(null, Insert, default, ("id", "x"), ("name", "in order"), ("n", 1));
        await _connection.RunAsync(null, Insert, default, ("n", 2), ("name", "out of order"), ("id", "y"));

        Assert.Equal(("out of order", 2L), await _connection.FirstOrDefaultAsync(null, Select, r => (r.GetString(0), r.GetInt64(1)), default, ("id", "y")));
    }

    [Fact]
    public async Task A_kept_statement_follows_the_transaction_it_is_given()
    {
        Keep(true);
        await using (var rolledBack = await _connection.BeginTransactionAsync())
        {
            await _connection.RunAsync(rolledBack, Insert, default, ("id", "gone"), ("name", "n"), ("n", 1));
            await rolledBack.RollbackAsync();
        }

        await using (var committed = await _connection.BeginTransactionAsync())
        {
            await _connection.RunAsync(committed, Insert, default, ("id", "kept"), ("name", "n"), ("n", 1));
            await committed.CommitAsync();
        }

        await _connection.RunAsync(null, Insert, default, ("id", "after"), ("name", "n"), ("n", 1));
        Assert.Equal(2L, await _connection.ScalarAsync<long?>(null, "SELECT count(*) FROM t", default));
    }

    [Fact]
    public async Task The_same_text_with_other_parameters_is_refused_not_misbound()
    {
        Keep(true);
        await _connection.RunAsync(null, Insert, default, ("id", "p"), ("name", "n"), ("n", 1));

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => _connection.RunAsync(null, Insert, default, ("id", "q"), ("name", "n")));
        Assert.Contains("prepared with 3 parameters", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Every_value_kind_the_stores_bind_comes_back_as_it_went_in(bool kept)
    {
        Keep(kept);
        await _connection.RunAsync(null, "CREATE TABLE v (id INTEGER PRIMARY KEY, t TEXT, i INTEGER, r REAL, b BLOB)", default);
        const string insert = "INSERT INTO v (id, t, i, r, b) VALUES (@id, @t, @i, @r, @b)";
        await _connection.RunAsync(null, insert, default, ("id", 1L), ("t", "钉钉 卡片 ✅ \"quoted\" {json}"), ("i", long.MaxValue), ("r", 0.25), ("b", new byte[] { 0, 1, 255 }));
        await _connection.RunAsync(null, insert, default, ("id", 2), ("t", ""), ("i", true), ("r", null), ("b", DBNull.Value));

        var first = await _connection.FirstOrDefaultAsync(
            null, "SELECT t, i, r, b FROM v WHERE id = @id", r => (r.GetString(0), r.GetInt64(1), r.GetDouble(2), (byte[])r.GetValue(3)), default, ("id", 1L));
        Assert.Equal("钉钉 卡片 ✅ \"quoted\" {json}", first.Item1);
        Assert.Equal(long.MaxValue, first.Item2);
        Assert.Equal(0.25, first.Item3);
        Assert.Equal(new byte[] { 0, 1, 255 }, first.Item4);

        var second = await _connection.FirstOrDefaultAsync(
            null, "SELECT t, i, r, b FROM v WHERE id = @id", r => (r.GetString(0), r.GetBoolean(1), r.IsDBNull(2), r.IsDBNull(3)), default, ("id", 2L));
        Assert.Equal(("", true, true, true), second);
        Assert.Equal("钉钉 卡片 ✅ \"quoted\" {json}", await _connection.ScalarAsync<string>(null, "SELECT t FROM v WHERE id = @id", default, ("id", 1L)));
        Assert.Equal(2, await _connection.ScalarAsync<int>(null, "SELECT count(*) FROM v WHERE id > @min", default, ("min", 0L)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Text_is_stored_the_same_way_kept_or_fresh_invalid_or_large(bool kept)
    {
        Keep(kept);
        await _connection.RunAsync(null, Insert, default, ("id", "lone"), ("name", "a\ud800b"), ("n", 1));

        Assert.Equal("a\ufffdb", await _connection.ScalarAsync<string>(null, "SELECT name FROM t WHERE id = @id", default, ("id", "lone")));

        var large = string.Concat(Enumerable.Repeat("钉钉卡片 {\"json\": true} ✅", 5_000)); // past any stack buffer
        await _connection.RunAsync(null, Insert, default, ("id", "large"), ("name", large), ("n", 2));
        Assert.Equal(large, await _connection.ScalarAsync<string>(null, "SELECT name FROM t WHERE id = @id", default, ("id", "large")));
    }

    [Fact]
    public async Task A_value_of_a_kind_no_store_binds_is_refused_and_the_statement_still_works()
    {
        Keep(true);
        await Assert.ThrowsAsync<NotSupportedException>(() => _connection.RunAsync(null, Insert, default, ("id", "d"), ("name", "n"), ("n", DateTime.UtcNow)));
        Assert.Equal(1, await _connection.RunAsync(null, Insert, default, ("id", "d"), ("name", "n"), ("n", 1)));
    }

    [Fact]
    public async Task A_parameter_the_statement_lacks_is_refused_when_it_is_prepared()
    {
        Keep(true);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => _connection.RunAsync(null, Insert, default, ("id", "e"), ("name", "n"), ("count", 1)));
        Assert.Contains("@count", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>SQLite prepares a text's first statement only; a kept statement must not drop the rest without a word.</summary>
    [Fact]
    public async Task A_text_of_two_statements_is_refused_by_a_kept_connection_and_run_whole_by_a_fresh_one()
    {
        const string two = "INSERT INTO t (id, name, n) VALUES ('m1', 'n', 1); INSERT INTO t (id, name, n) VALUES ('m2', 'n', 2)";
        await _connection.RunAsync(null, two, default);
        Assert.Equal(2L, await _connection.ScalarAsync<long?>(null, "SELECT count(*) FROM t", default));

        Keep(true);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => _connection.RunAsync(null, two.Replace("'m", "'k", StringComparison.Ordinal), default));
        Assert.Contains("one SQL statement", refused.Message, StringComparison.Ordinal);
        Assert.Equal(2L, await _connection.ScalarAsync<long?>(null, "SELECT count(*) FROM t", default));
        Assert.Equal(1, await _connection.RunAsync(null, "INSERT INTO t (id, name, n) VALUES ('k3', 'n', 3);  ", default)); // a trailing ; is still one
    }

    [Fact]
    public async Task A_connection_that_forgot_its_statements_runs_fresh_ones()
    {
        Keep(true);
        await _connection.RunAsync(null, Insert, default, ("id", "f1"), ("name", "n"), ("n", 1));
        _connection.ForgetPrepared();

        await _connection.RunAsync(null, Insert, default, ("id", "f2"), ("name", "n"), ("n", 2));
        Assert.Equal(2L, await _connection.ScalarAsync<long?>(null, "SELECT count(*) FROM t", default));
    }

    private void Keep(bool kept)
    {
        if (kept)
        {
            _connection.KeepPrepared();
        }
    }
}
