using System.Buffers;
using System.Collections;
using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The statements on the callback path, run as SQLite prepared statements where the connection keeps them.
/// </summary>
/// <remarks>
/// Microsoft.Data.Sqlite compiles a statement once per command object (dotnet/efcore#14044), and Dapper makes a new
/// command per call, so each of the dozen statements of a callback was parsed and planned again — on SQLite's single
/// writer, where every microsecond is everyone's. The group-commit writer connection is long-lived and used by one
/// unit of work at a time, so it keeps its statements prepared (<see cref="KeepPrepared"/>) as SQLite's own prepared
/// statements, run through SQLitePCLRaw (the layer Microsoft.Data.Sqlite itself stands on) with their parameters
/// bound by a position found once: a reused command still allocated a binder per parameter per run and looked each
/// name up again, and a reader allocated a record, a dictionary and enumerators, ~20% of everything a vote
/// allocated. Any other connection (PostgreSQL's, whose driver prepares by itself, or a short-lived SQLite reader)
/// gets a fresh command. Statements off that path — migrations, the outbox dispatcher, retention, admin reads — stay
/// with Dapper, whose mapping they need more than a prepared statement.
/// </remarks>
internal static class SqlStatements
{
    private static readonly ConditionalWeakTable<DbConnection, RawStatements> Raw = [];

    /// <summary>From now on, <paramref name="connection"/> keeps its statements: call it only for a connection one caller uses at a time.</summary>
    public static void KeepPrepared(this SqliteConnection connection) => Raw.AddOrUpdate(connection, new RawStatements(connection));

    /// <summary>Releases the statements <see cref="KeepPrepared"/> kept: call it before closing the connection.</summary>
    public static void ForgetPrepared(this DbConnection connection)
    {
        if (Raw.TryGetValue(connection, out var raw))
        {
            raw.Dispose();
            Raw.Remove(connection);
        }
    }

    public static Task<int> RunAsync(
        this DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        if (Raw.TryGetValue(connection, out var raw))
        {
            try
            {
                return Task.FromResult(raw.Get(sql, parameters).Run(parameters));
            }
            catch (Exception ex)
            {
                return Task.FromException<int>(ex);
            }
        }

        return ExecuteAsync(Command(connection, transaction, sql, parameters), cancellationToken);
    }

    public static Task<T?> ScalarAsync<T>(
        this DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        if (Raw.TryGetValue(connection, out var raw))
        {
            try
            {
                return Task.FromResult(Convert<T>(raw.Get(sql, parameters).Scalar(parameters)));
            }
            catch (Exception ex)
            {
                return Task.FromException<T?>(ex);
            }
        }

        return ScalarAsync<T>(Command(connection, transaction, sql, parameters), cancellationToken);
    }

    /// <summary>The first row, read by <paramref name="map"/>, or <c>default</c> when there is none.</summary>
    public static Task<T?> FirstOrDefaultAsync<T>(
        this DbConnection connection,
        DbTransaction? transaction,
        string sql,
        Func<DbDataReader, T> map,
        CancellationToken cancellationToken,
        params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        if (Raw.TryGetValue(connection, out var raw))
        {
            try
            {
                return Task.FromResult(raw.Get(sql, parameters).FirstOrDefault(parameters, map));
            }
            catch (Exception ex)
            {
                return Task.FromException<T?>(ex);
            }
        }

        return FirstOrDefaultAsync(Command(connection, transaction, sql, parameters), map, cancellationToken);
    }

    /// <summary>
    /// Two reads in one round trip (a <see cref="DbBatch"/>, in order): the first row of each, or <c>default</c>. For a
    /// connection that does not keep its statements (PostgreSQL's).
    /// </summary>
    public static async Task<(T1? First, T2? Second)> FirstOrDefaultOfBothAsync<T1, T2>(
        this DbConnection connection,
        DbTransaction transaction,
        (string Sql, Func<DbDataReader, T1> Map, (string Name, object? Value)[] Parameters) first,
        (string Sql, Func<DbDataReader, T2> Map, (string Name, object? Value)[] Parameters) second,
        CancellationToken cancellationToken)
    {
        if (Raw.TryGetValue(connection, out _))
        {
            throw new InvalidOperationException("A connection that keeps its statements runs them one at a time.");
        }

        await using var batch = connection.CreateBatch();
        batch.Transaction = transaction;
        batch.Add(first.Sql, first.Parameters);
        batch.Add(second.Sql, second.Parameters);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var one = await reader.ReadAsync(cancellationToken) ? first.Map(reader) : default;
        await reader.NextResultAsync(cancellationToken);
        var two = await reader.ReadAsync(cancellationToken) ? second.Map(reader) : default;
        return (one, two);
    }

    /// <summary>Adds <paramref name="sql"/> with its named parameters (written as in the SQL, <c>@name</c>) to <paramref name="batch"/>.</summary>
    public static void Add(this DbBatch batch, string sql, IEnumerable<(string Name, object? Value)> parameters)
    {
        var command = batch.CreateBatchCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@" + name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        batch.BatchCommands.Add(command);
    }

    private static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@" + name; // as written in the SQL: SQLite finds it at once instead of trying each prefix
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    private static async Task<int> ExecuteAsync(DbCommand command, CancellationToken cancellationToken)
    {
        try
        {
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }
        finally
        {
            await command.DisposeAsync();
        }
    }

    private static async Task<T?> ScalarAsync<T>(DbCommand command, CancellationToken cancellationToken)
    {
        try
        {
            return Convert<T>(await command.ExecuteScalarAsync(cancellationToken));
        }
        finally
        {
            await command.DisposeAsync();
        }
    }

    private static async Task<T?> FirstOrDefaultAsync<T>(DbCommand command, Func<DbDataReader, T> map, CancellationToken cancellationToken)
    {
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken) ? map(reader) : default;
        }
        finally
        {
            await command.DisposeAsync();
        }
    }

    private static T? Convert<T>(object? value) => value switch
    {
        null or DBNull => default,
        T typed => typed, // the usual case (a long for a long?): no reflection per call
        _ => (T)System.Convert.ChangeType(value, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// A SQLite connection's kept statements, by SQL text. The stores' texts are constants, so they are found by
    /// reference first: hashing a few hundred characters a dozen times a vote showed in the writer's profile.
    /// </summary>
    private sealed class RawStatements(SqliteConnection connection) : IDisposable
    {
        private readonly Dictionary<string, RawStatement> _statements = new(StringComparer.Ordinal);
        private readonly Dictionary<string, RawStatement> _byReference = new(ReferenceEqualityComparer.Instance);

        public RawStatement Get(string sql, ReadOnlySpan<(string Name, object? Value)> parameters)
        {
            if (_byReference.TryGetValue(sql, out var statement))
            {
                return statement;
            }

            if (!_statements.TryGetValue(sql, out statement))
            {
                statement = new RawStatement(connection.Handle ?? throw new InvalidOperationException("The connection is not open."), sql, parameters);
                _statements.Add(sql, statement);
            }

            if (string.IsInterned(sql) is { } constant && ReferenceEquals(constant, sql))
            {
                _byReference[sql] = statement; // only a constant: a text built at run time is a new object each call
            }

            return statement;
        }

        public void Dispose()
        {
            foreach (var statement in _statements.Values)
            {
                statement.Dispose();
            }

            _statements.Clear();
            _byReference.Clear();
        }
    }

    /// <summary>
    /// One prepared SQLite statement and where each of its parameters goes. Runs synchronously, as
    /// Microsoft.Data.Sqlite's async methods do; errors become the <see cref="SqliteException"/> it would throw.
    /// </summary>
    private sealed class RawStatement : IDisposable
    {
        private readonly sqlite3 _db;
        private readonly sqlite3_stmt _statement;
        private readonly string _sql;
        private readonly string[] _names;
        private readonly int[] _positions;
        private readonly RawRow _row;

        public RawStatement(sqlite3 db, string sql, ReadOnlySpan<(string Name, object? Value)> parameters)
        {
            _db = db;
            _sql = sql;
            var rc = raw.sqlite3_prepare_v2(db, sql, out _statement, out string tail);
            SqliteException.ThrowExceptionForRC(rc, db);
            if (!string.IsNullOrWhiteSpace(tail))
            {
                // SQLite prepares the first statement only: the rest would be dropped without a word.
                _statement.Dispose();
                throw new InvalidOperationException($"A kept statement is one SQL statement; this text goes on after its first: {sql}");
            }

            _names = new string[parameters.Length];
            _positions = new int[parameters.Length];
            for (var i = 0; i < parameters.Length; i++)
            {
                _names[i] = parameters[i].Name;
                _positions[i] = Position(parameters[i].Name);
            }

            var count = raw.sqlite3_bind_parameter_count(_statement);
            if (count != parameters.Length)
            {
                _statement.Dispose();
                throw new InvalidOperationException($"The statement has {count} parameters, not the {parameters.Length} given: {sql}");
            }

            _row = new RawRow(_statement);
        }

        public int Run(ReadOnlySpan<(string Name, object? Value)> parameters)
        {
            try
            {
                Bind(parameters);
                Step();
                return raw.sqlite3_changes(_db);
            }
            finally
            {
                Reset();
            }
        }

        public object? Scalar(ReadOnlySpan<(string Name, object? Value)> parameters)
        {
            try
            {
                Bind(parameters);
                return Step() ? _row.GetValue(0) : null;
            }
            finally
            {
                Reset();
            }
        }

        public T? FirstOrDefault<T>(ReadOnlySpan<(string Name, object? Value)> parameters, Func<DbDataReader, T> map)
        {
            try
            {
                Bind(parameters);
                return Step() ? map(_row) : default;
            }
            finally
            {
                Reset();
            }
        }

        public void Dispose() => _statement.Dispose();

        private int Position(string name)
        {
            var position = raw.sqlite3_bind_parameter_index(_statement, "@" + name);
            return position > 0 ? position : throw new InvalidOperationException($"The statement has no parameter @{name}: {_sql}");
        }

        private void Bind(ReadOnlySpan<(string Name, object? Value)> parameters)
        {
            if (parameters.Length != _names.Length)
            {
                throw new InvalidOperationException($"The statement was prepared with {_names.Length} parameters, not {parameters.Length}: {_sql}");
            }

            for (var i = 0; i < parameters.Length; i++)
            {
                var (name, value) = parameters[i];
                var position = ReferenceEquals(name, _names[i]) || name == _names[i] ? _positions[i] : Position(name);
                var rc = value switch
                {
                    null or DBNull => raw.sqlite3_bind_null(_statement, position),
                    string text => BindText(position, text),
                    long number => raw.sqlite3_bind_int64(_statement, position, number),
                    int number => raw.sqlite3_bind_int64(_statement, position, number),
                    bool flag => raw.sqlite3_bind_int64(_statement, position, flag ? 1 : 0),
                    double number => raw.sqlite3_bind_double(_statement, position, number),
                    byte[] bytes => raw.sqlite3_bind_blob(_statement, position, bytes),
                    _ => throw new NotSupportedException($"A {value.GetType().Name} cannot be bound to @{name}."),
                };
                SqliteException.ThrowExceptionForRC(rc, _db);
            }
        }

        /// <summary>
        /// Text as .NET encodes it to UTF-8, as Microsoft.Data.Sqlite binds it: SQLite's own UTF-16 conversion joined an
        /// unpaired surrogate with the character after it, where .NET writes U+FFFD.
        /// </summary>
        private int BindText(int position, string text)
        {
            var most = Encoding.UTF8.GetMaxByteCount(text.Length);
            if (most <= 1024)
            {
                Span<byte> buffer = stackalloc byte[most];
                return raw.sqlite3_bind_text(_statement, position, buffer[..Encoding.UTF8.GetBytes(text, buffer)]);
            }

            var rented = ArrayPool<byte>.Shared.Rent(most);
            try
            {
                return raw.sqlite3_bind_text(_statement, position, rented.AsSpan(0, Encoding.UTF8.GetBytes(text, rented)));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        /// <summary>True when a row came back. Waits out a lock held elsewhere (<c>SQLITE_BUSY</c>, or <c>SQLITE_LOCKED</c> in a shared-cache database), as Microsoft.Data.Sqlite does.</summary>
        private bool Step()
        {
            var rc = raw.sqlite3_step(_statement);
            long? since = null;
            while ((rc & 0xFF) is raw.SQLITE_BUSY or raw.SQLITE_LOCKED)
            {
                since ??= Environment.TickCount64;
                if (Environment.TickCount64 - since > SqliteDialect.BusyTimeout.TotalMilliseconds)
                {
                    break;
                }

                raw.sqlite3_reset(_statement);
                Thread.Sleep(1);
                rc = raw.sqlite3_step(_statement);
            }

            if (rc is raw.SQLITE_ROW)
            {
                return true;
            }

            if (rc is not raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, _db);
            }

            return false;
        }

        /// <summary>Ready for the next run, holding no values (they may be large JSON).</summary>
        private void Reset()
        {
            raw.sqlite3_reset(_statement);
            raw.sqlite3_clear_bindings(_statement);
        }
    }

    /// <summary>The current row of a raw statement, as the <see cref="DbDataReader"/> the row maps take: typed reads only.</summary>
    private sealed class RawRow(sqlite3_stmt statement) : DbDataReader
    {
        public override int FieldCount => raw.sqlite3_column_count(statement);

        public override bool HasRows => true;

        public override bool IsClosed => false;

        public override int RecordsAffected => -1;

        public override int Depth => 0;

        public override object this[int ordinal] => GetValue(ordinal);

        public override object this[string name] => throw new NotSupportedException("Read columns by position.");

        public override bool IsDBNull(int ordinal) => raw.sqlite3_column_type(statement, ordinal) == raw.SQLITE_NULL;

        public override string GetString(int ordinal) => raw.sqlite3_column_text(statement, ordinal).utf8_to_string();

        public override long GetInt64(int ordinal) => raw.sqlite3_column_int64(statement, ordinal);

        public override int GetInt32(int ordinal) => checked((int)raw.sqlite3_column_int64(statement, ordinal));

        public override short GetInt16(int ordinal) => checked((short)raw.sqlite3_column_int64(statement, ordinal));

        public override byte GetByte(int ordinal) => checked((byte)raw.sqlite3_column_int64(statement, ordinal));

        public override bool GetBoolean(int ordinal) => raw.sqlite3_column_int64(statement, ordinal) != 0;

        public override double GetDouble(int ordinal) => raw.sqlite3_column_double(statement, ordinal);

        public override float GetFloat(int ordinal) => (float)raw.sqlite3_column_double(statement, ordinal);

        public override decimal GetDecimal(int ordinal) => (decimal)raw.sqlite3_column_double(statement, ordinal);

        public override object GetValue(int ordinal) => raw.sqlite3_column_type(statement, ordinal) switch
        {
            raw.SQLITE_INTEGER => raw.sqlite3_column_int64(statement, ordinal),
            raw.SQLITE_FLOAT => raw.sqlite3_column_double(statement, ordinal),
            raw.SQLITE_TEXT => GetString(ordinal),
            raw.SQLITE_BLOB => raw.sqlite3_column_blob(statement, ordinal).ToArray(),
            _ => DBNull.Value,
        };

        public override int GetValues(object[] values)
        {
            var count = Math.Min(values.Length, FieldCount);
            for (var i = 0; i < count; i++)
            {
                values[i] = GetValue(i);
            }

            return count;
        }

        public override string GetName(int ordinal) => raw.sqlite3_column_name(statement, ordinal).utf8_to_string();

        public override Type GetFieldType(int ordinal) => GetValue(ordinal).GetType();

        public override string GetDataTypeName(int ordinal) => GetFieldType(ordinal).Name;

        public override int GetOrdinal(string name) => throw new NotSupportedException("Read columns by position.");

        public override char GetChar(int ordinal) => GetString(ordinal)[0];

        public override DateTime GetDateTime(int ordinal) => throw new NotSupportedException("Times are stored as epoch milliseconds.");

        public override Guid GetGuid(int ordinal) => Guid.Parse(GetString(ordinal));

        public override long GetBytes(int ordinal, long dataOffset, byte[]? buffer, int bufferOffset, int length) => throw new NotSupportedException();

        public override long GetChars(int ordinal, long dataOffset, char[]? buffer, int bufferOffset, int length) => throw new NotSupportedException();

        public override IEnumerator GetEnumerator() => throw new NotSupportedException();

        public override bool NextResult() => false;

        public override bool Read() => throw new NotSupportedException("The statement is stepped by its owner.");
    }
}
