using System.Data.Common;
using System.Runtime.CompilerServices;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The statements on the callback path, run as reusable prepared commands where a connection keeps them.
/// </summary>
/// <remarks>
/// Microsoft.Data.Sqlite compiles a statement once per command object (dotnet/efcore#14044), and Dapper makes a new
/// command per call, so each of the dozen statements of a callback was parsed and planned again — on SQLite's single
/// writer, where every microsecond is everyone's. The group-commit writer connection is long-lived and used by one
/// unit of work at a time, so it keeps one prepared command per SQL text (<see cref="KeepPrepared"/>); any other
/// connection (PostgreSQL's, whose driver prepares by itself, or a short-lived SQLite reader) gets a fresh command.
/// Statements off that path — migrations, the outbox dispatcher, retention, admin reads — stay with Dapper, whose
/// mapping they need more than a prepared command.
/// </remarks>
internal static class SqlStatements
{
    private static readonly ConditionalWeakTable<DbConnection, Dictionary<string, DbCommand>> Prepared = [];

    /// <summary>From now on, <paramref name="connection"/> keeps its commands: call it only for a connection one caller uses at a time.</summary>
    public static void KeepPrepared(this DbConnection connection) => Prepared.AddOrUpdate(connection, new Dictionary<string, DbCommand>(StringComparer.Ordinal));

    public static Task<int> RunAsync(
        this DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params ReadOnlySpan<(string Name, object? Value)> parameters) =>
        ExecuteAsync(Command(connection, transaction, sql, parameters, out var owned), owned, cancellationToken);

    public static Task<T?> ScalarAsync<T>(
        this DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params ReadOnlySpan<(string Name, object? Value)> parameters) =>
        ScalarAsync<T>(Command(connection, transaction, sql, parameters, out var owned), owned, cancellationToken);

    /// <summary>The first row, read by <paramref name="map"/>, or <c>default</c> when there is none.</summary>
    public static Task<T?> FirstOrDefaultAsync<T>(
        this DbConnection connection,
        DbTransaction? transaction,
        string sql,
        Func<DbDataReader, T> map,
        CancellationToken cancellationToken,
        params ReadOnlySpan<(string Name, object? Value)> parameters) =>
        FirstOrDefaultAsync(Command(connection, transaction, sql, parameters, out var owned), owned, map, cancellationToken);

    private static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, ReadOnlySpan<(string Name, object? Value)> parameters, out bool owned)
    {
        owned = !Prepared.TryGetValue(connection, out var kept);
        if (owned || !kept!.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            foreach (var (name, value) in parameters)
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = "@" + name; // as written in the SQL: SQLite finds it at once instead of trying each prefix
                parameter.Value = value ?? DBNull.Value;
                command.Parameters.Add(parameter);
            }

            if (!owned)
            {
                kept!.Add(sql, command);
            }
        }
        else
        {
            if (command.Parameters.Count != parameters.Length)
            {
                throw new InvalidOperationException($"The statement was prepared with {command.Parameters.Count} parameters, not {parameters.Length}: {sql}");
            }

            for (var i = 0; i < parameters.Length; i++)
            {
                var (name, value) = parameters[i];
                var parameter = command.Parameters[i].ParameterName.AsSpan(1).SequenceEqual(name) ? command.Parameters[i] : command.Parameters["@" + name];
                parameter.Value = value ?? DBNull.Value;
            }
        }

        command.Transaction = transaction;
        return command;
    }

    private static async Task<int> ExecuteAsync(DbCommand command, bool owned, CancellationToken cancellationToken)
    {
        try
        {
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }
        finally
        {
            await ReleaseAsync(command, owned);
        }
    }

    private static async Task<T?> ScalarAsync<T>(DbCommand command, bool owned, CancellationToken cancellationToken)
    {
        try
        {
            var value = await command.ExecuteScalarAsync(cancellationToken);
            return value switch
            {
                null or DBNull => default,
                T typed => typed, // the usual case (a long for a long?): no reflection per call
                _ => (T)Convert.ChangeType(value, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), System.Globalization.CultureInfo.InvariantCulture),
            };
        }
        finally
        {
            await ReleaseAsync(command, owned);
        }
    }

    private static async Task<T?> FirstOrDefaultAsync<T>(DbCommand command, bool owned, Func<DbDataReader, T> map, CancellationToken cancellationToken)
    {
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken) ? map(reader) : default;
        }
        finally
        {
            await ReleaseAsync(command, owned);
        }
    }

    /// <summary>A kept command lets go of its values (they may be large JSON) and of the transaction, which ends before the connection does.</summary>
    private static ValueTask ReleaseAsync(DbCommand command, bool owned)
    {
        if (owned)
        {
            return command.DisposeAsync();
        }

        command.Transaction = null;
        foreach (DbParameter parameter in command.Parameters)
        {
            parameter.Value = DBNull.Value;
        }

        return ValueTask.CompletedTask;
    }
}
