using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage.Sql;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// Clicks answered <c>{}</c> before their commit, kept until they are through: DingTalk will not deliver such a click
/// again, so a process that dies before its commit (SIGKILL, OOM, power) would lose it. <see cref="AnsweredEarlyRecovery"/>
/// handles what a dead process kept.
/// <list type="bullet">
/// <item>Beside a SQLite file, in a folder of its own (<c>&lt;database&gt;.answered-early/</c>): one small fsynced file a
/// click, written apart from the database, so a click held by SQLite's writer can still be kept. One process owns the file,
/// so what is found at startup is a dead one's.</item>
/// <item>On PostgreSQL, in the table <c>answered_early</c>, written on a connection of its own (not the click's
/// transaction): every replica sees what one that died kept.</item>
/// </list>
/// Off in memory, where nothing survives a crash anyway.
/// </summary>
public sealed partial class AnsweredEarlyJournal(GatewayDatabase database, ILogger<AnsweredEarlyJournal> logger)
{
    private const string KeepSql = $"""
        INSERT INTO answered_early (callback_id, action_json, kept_at)
        VALUES (@CallbackId, @ActionJson, {PostgresDialect.NowMilliseconds})
        ON CONFLICT (callback_id) DO NOTHING
        """;

    private const string KeptSql = $"""
        SELECT action_json FROM answered_early
        WHERE kept_at <= {PostgresDialect.NowMilliseconds} - @AgeMs
        ORDER BY kept_at
        LIMIT 100
        """;

    private readonly string? _folder = database.SqliteFile is { } file ? file + ".answered-early" : null;

    /// <summary>Whether clicks are kept: beside a SQLite file, or on PostgreSQL.</summary>
    public bool Enabled => _folder is not null || Shared;

    /// <summary>Kept where every replica sees it (PostgreSQL), so kept clicks are looked for all along, not only at startup.</summary>
    public bool Shared => database.Dialect is PostgresDialect;

    /// <summary>Keeps <paramref name="action"/> (written and made durable); false when it could not be, said once a click (3134).</summary>
    public async Task<bool> KeepAsync(CardAction action)
    {
        if (!Enabled)
        {
            return true;
        }

        try
        {
            if (Shared)
            {
                await using var connection = await database.OpenAsync(CancellationToken.None);
                await connection.ExecuteAsync(KeepSql, new { action.CallbackId, ActionJson = JsonSerializer.Serialize(action, GatewayJson.Options) });
                return true;
            }

            // On the thread pool: creating the file and its fsync are synchronous system calls, which a disk that stalls could
            // hold on the caller's thread — the click's, whose answer waits for this only so long.
            await Task.Run(() => WriteFile(action));
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DbException or TimeoutException or InvalidOperationException)
        {
            Log.NotKept(logger, RepeatedFailure.StackWorthLogging(ex), action.CallbackId, action.CardId, SchemaMigrator.Describe(ex));
            return false;
        }
    }

    /// <summary>The click is through (committed, or recorded by another delivery): its copy goes.</summary>
    public async Task ForgetAsync(string callbackId)
    {
        if (!Enabled)
        {
            return;
        }

        try
        {
            if (Shared)
            {
                await using var connection = await database.OpenAsync(CancellationToken.None);
                await connection.ExecuteAsync("DELETE FROM answered_early WHERE callback_id = @CallbackId", new { CallbackId = callbackId });
                return;
            }

            File.Delete(PathOf(callbackId));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DbException or TimeoutException or InvalidOperationException)
        {
            Log.NotForgotten(logger, ex, callbackId);
        }
    }

    /// <summary>
    /// The clicks kept and not seen through, kept at least <paramref name="age"/> ago (on PostgreSQL; a SQLite file's are all a
    /// dead process's); one that does not read as a click is set aside (3137).
    /// </summary>
    public async Task<IReadOnlyList<CardAction>> KeptAsync(TimeSpan age, CancellationToken cancellationToken)
    {
        var kept = new List<CardAction>();
        if (Shared)
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            foreach (var json in await connection.QueryAsync<string>(new CommandDefinition(KeptSql, new { AgeMs = (long)age.TotalMilliseconds }, cancellationToken: cancellationToken)))
            {
                Read(Encoding.UTF8.GetBytes(json), "a row of answered_early", setAside: null);
            }
        }
        else if (_folder is not null && Directory.Exists(_folder))
        {
            foreach (var path in Directory.EnumerateFiles(_folder, "*.json"))
            {
                Read(await File.ReadAllBytesAsync(path, cancellationToken), path, setAside: () => File.Move(path, path + ".unreadable", overwrite: true));
            }
        }

        return kept;

        void Read(byte[] json, string what, Action? setAside)
        {
            try
            {
                kept.Add(JsonSerializer.Deserialize<CardAction>(json, GatewayJson.Options) ?? throw new JsonException("null"));
            }
            catch (Exception ex) when (ex is JsonException or NotSupportedException)
            {
                Log.Unreadable(logger, ex, what);
                setAside?.Invoke();
            }
        }
    }

    /// <summary>The click's file, written whole and fsynced under a temporary name, then put in place.</summary>
    private void WriteFile(CardAction action)
    {
        Directory.CreateDirectory(_folder!);
        var path = PathOf(action.CallbackId);
        var temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(file, action, GatewayJson.Options);
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>A file name for a callback id, which may hold characters no file name may.</summary>
    private string PathOf(string callbackId) =>
        Path.Combine(_folder!, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(callbackId))) + ".json");

    private static partial class Log
    {
        [LoggerMessage(3134, LogLevel.Warning, "Callback {CallbackId} (card {CardId}), answered {{}} before its commit, could not be kept (beside the SQLite file, or in PostgreSQL's answered_early: {Reason}): should this process die before it commits, the click is lost")]
        public static partial void NotKept(ILogger logger, Exception? exception, string callbackId, string cardId, string reason);

        [LoggerMessage(3136, LogLevel.Warning, "The kept copy of callback {CallbackId}, committed, could not be deleted: it is found recorded and deleted later")]
        public static partial void NotForgotten(ILogger logger, Exception exception, string callbackId);

        [LoggerMessage(3137, LogLevel.Error, "{What} does not read as a kept click: set aside, not handled")]
        public static partial void Unreadable(ILogger logger, Exception exception, string what);
    }
}
