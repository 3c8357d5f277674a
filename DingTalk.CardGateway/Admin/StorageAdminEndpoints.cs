using System.Data.Common;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DingTalk.CardGateway.Admin;

/// <summary>
/// A backup of the SQLite database while the gateway runs: one consistent file to download (<see cref="SqliteBackup"/>).
/// PostgreSQL is backed up with its own tools; an in-memory database is a trial, not backed up.
/// </summary>
public static partial class StorageAdminEndpoints
{
    /// <summary>SQLite's registered media type.</summary>
    public const string SqliteContentType = "application/vnd.sqlite3";

    public static RouteGroupBuilder MapStorageAdmin(this RouteGroupBuilder api)
    {
        api.MapGet("/storage/backup", BackupAsync)
            .WithSummary("Download a consistent backup of the whole SQLite database, taken while the gateway runs")
            .WithDescription("200: one SQLite file (cardgateway-<UTC time>.db), a snapshot of the last commit before it was taken; clicks and the outbox go on meanwhile. "
                + "To restore: stop the gateway, replace the database file with it, delete the -wal and -shm files beside it, start. "
                + "409: another backup is under way (one at a time), or the database is not a SQLite file (PostgreSQL: use pg_dump; in memory: a trial, nothing to back up). "
                + "503: the copy could not be written beside the database (a full disk), with SQLite's reason; nothing is left behind.")
            .Produces<System.IO.Stream>(StatusCodes.Status200OK, SqliteContentType)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return api;
    }

    private static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> BackupAsync(
        SqliteBackup backup, GatewayDatabase database, HttpContext http, TimeProvider clock, ILoggerFactory logs, CancellationToken cancellationToken)
    {
        if (database.Dialect is not SqliteDialect)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: "Back up PostgreSQL with pg_dump",
                detail: "The gateway stores its data in PostgreSQL (Gateway:Storage:Provider=Postgres), which the gateway does not copy: "
                    + "back it up with PostgreSQL's own tools while the gateway runs, e.g. pg_dump --format=custom --file=cardgateway.dump <database>, "
                    + "or the server's continuous archiving.");
        }

        if (!backup.Possible)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: "Nothing to back up: the database is in memory",
                detail: "The gateway keeps its SQLite database in memory (Data Source=:memory:), a trial that does not survive a restart; "
                    + "copying it would hold every click up for as long as the copy takes. Keep the database in a file (Gateway:Storage:ConnectionString, "
                    + "e.g. Data Source=data/cardgateway.db) to back it up.");
        }

        var takenAt = clock.GetUtcNow();
        SqliteBackup.Snapshot? snapshot;
        try
        {
            snapshot = await backup.TakeAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is DbException or IOException or UnauthorizedAccessException)
        {
            // Not a database that failed under a request (503, try again in a second): the copy did not fit, and a retry
            // needs room made first. SQLite's sentence says which.
            return TypedResults.Problem(
                statusCode: StatusCodes.Status503ServiceUnavailable,
                title: "Backup failed",
                detail: $"The backup could not be written beside the database: {ex.Message} Its file was removed. A backup needs as much free disk as the database takes.");
        }

        if (snapshot is null)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: "Backup under way",
                detail: "Another backup is being taken or downloaded; try again once it has finished (one at a time: each needs room for a whole copy beside the database).");
        }

        http.Response.RegisterForDisposeAsync(snapshot); // however the download ends, the next backup may start
        Log.Taken(logs.CreateLogger(typeof(StorageAdminEndpoints)), snapshot.Bytes, snapshot.Took.TotalMilliseconds, http.Connection.RemoteIpAddress?.ToString());
        return TypedResults.File(snapshot.Content, SqliteContentType, $"cardgateway-{takenAt.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}.db");
    }

    private static partial class Log
    {
        [LoggerMessage(4401, LogLevel.Information, "An operator (admin key, from {RemoteIp}) took a backup of the SQLite database: {Bytes} bytes, written in {ElapsedMs:0} ms while the gateway ran")]
        public static partial void Taken(ILogger logger, long bytes, double elapsedMs, string? remoteIp);
    }
}
