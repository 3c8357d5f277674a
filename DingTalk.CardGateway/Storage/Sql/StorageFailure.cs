using System.Data.Common;

namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// What a failure says about the database: the database's own exception, however Npgsql wrapped it, and whether the
/// gateway lost its way to the database (a server restarting, stopped, or a network cut) rather than a database that
/// answered and refused (a full disk, a read-only server).
/// </summary>
public static class StorageFailure
{
    /// <summary>
    /// The database's exception behind <paramref name="exception"/>, or null when the database is not the cause. Npgsql
    /// disposes a transaction whose connection broke, and a later use of it (its rollback, its commit) throws
    /// <see cref="ObjectDisposedException"/> with the break as its inner exception: that is still the database's failure.
    /// </summary>
    public static DbException? Of(Exception exception) => exception switch
    {
        DbException database => database,
        ObjectDisposedException or InvalidOperationException when exception.InnerException is DbException database => database,
        _ => null,
    };

    /// <summary>
    /// The connection to the database was lost or never made: a socket error, a timeout, the server ending its sessions
    /// (57P01 on a restart, 57P02 on a crash) or not taking them yet (57P03), a connection exception (class 08). Such a
    /// failure says nothing about whether the database takes writes: it is unreachable, which readiness says by itself.
    /// </summary>
    public static bool IsConnectionLost(Exception exception) => Of(exception) switch
    {
        Npgsql.PostgresException postgres => postgres.SqlState.StartsWith("57P0", StringComparison.Ordinal) || postgres.SqlState.StartsWith("08", StringComparison.Ordinal),
        Npgsql.NpgsqlException => true, // not from the server: the socket broke, a connect or a command timed out
        _ => false,
    };

    /// <summary>
    /// The database did not answer: its connection lost (<see cref="IsConnectionLost"/>), or a wait for it timed out
    /// however it is wrapped — a connection attempt, a command, a wait for a pooled connection — as a network that
    /// swallows every packet shows itself. Says nothing of a database that answers and refuses.
    /// </summary>
    public static bool IsUnreachable(Exception exception)
    {
        if (IsConnectionLost(exception))
        {
            return true;
        }

        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is TimeoutException)
            {
                return true;
            }
        }

        return false;
    }
}
