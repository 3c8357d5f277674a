using Npgsql;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// Test classes run in parallel, each PostgreSQL test on a database of its own: ending one test's database must leave
/// the others' connections as they were.
/// </summary>
public sealed class PostgresServerTests
{
    /// <summary>
    /// Npgsql's pools are the process's: emptying them all (as dropping a database once did) made another test's next
    /// statement open a new connection, a CONNECT it then counted among a click's round trips.
    /// </summary>
    [SkippableFact]
    public async Task Dropping_a_tests_database_leaves_another_tests_pooled_connection_open()
    {
        var dropped = await PostgresServer.CreateDatabaseAsync();
        Skip.If(dropped is null, PostgresServer.SkipReason);
        try
        {
            await PostgresServer.WithDatabaseAsync(async connectionString =>
            {
                var before = await BackendAsync(connectionString);

                await PostgresServer.DropDatabaseAsync(dropped);

                Assert.Equal(before, await BackendAsync(connectionString)); // the same server process: the pooled connection, not a new one
            });
        }
        finally
        {
            await PostgresServer.DropDatabaseAsync(dropped);
        }
    }

    /// <summary>The server process of a connection taken from the pool (and given back).</summary>
    private static async Task<int> BackendAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_backend_pid()", connection);
        return (int)(await command.ExecuteScalarAsync())!;
    }
}
