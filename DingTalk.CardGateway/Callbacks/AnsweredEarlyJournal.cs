using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage.Sql;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// Clicks answered <c>{}</c> before their commit, kept on disk until they are through: DingTalk will not deliver such a click
/// again, so a process that dies before its commit (SIGKILL, OOM, power) would lose it. Beside a SQLite file, in a folder
/// of its own (<c>&lt;database&gt;.answered-early/</c>), one small fsynced file a click, written as its <c>{}</c> leaves and
/// deleted once it is committed: the folder is written apart from the database, so a click held by SQLite's writer can
/// still be kept. At startup the clicks a previous process left are handled (<see cref="AnsweredEarlyRecovery"/>). Off in
/// memory (nothing survives there) and on PostgreSQL (several replicas: a file on one is no other's).
/// </summary>
public sealed partial class AnsweredEarlyJournal(GatewayDatabase database, ILogger<AnsweredEarlyJournal> logger)
{
    private readonly string? _folder = database.SqliteFile is { } file ? file + ".answered-early" : null;

    /// <summary>Whether clicks are kept: beside a SQLite file only.</summary>
    public bool Enabled => _folder is not null;

    /// <summary>Keeps <paramref name="action"/> (its file written and fsynced); false when it could not be, said once a click (3134).</summary>
    public async Task<bool> KeepAsync(CardAction action)
    {
        if (_folder is null)
        {
            return true;
        }

        var path = PathOf(action.CallbackId);
        try
        {
            Directory.CreateDirectory(_folder);
            var temporary = path + ".tmp";
            await using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
            {
                await JsonSerializer.SerializeAsync(file, action, GatewayJson.Options);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.NotKept(logger, ex, action.CallbackId, action.CardId, _folder);
            return false;
        }
    }

    /// <summary>The click is through (committed, or recorded by another delivery): its file goes.</summary>
    public void Forget(string callbackId)
    {
        if (_folder is null)
        {
            return;
        }

        try
        {
            File.Delete(PathOf(callbackId));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.NotForgotten(logger, ex, callbackId, _folder);
        }
    }

    /// <summary>The clicks a previous process kept and did not see through; a file that does not read as one is set aside.</summary>
    public IReadOnlyList<CardAction> Kept()
    {
        if (_folder is null || !Directory.Exists(_folder))
        {
            return [];
        }

        var kept = new List<CardAction>();
        foreach (var path in Directory.EnumerateFiles(_folder, "*.json"))
        {
            try
            {
                kept.Add(JsonSerializer.Deserialize<CardAction>(File.ReadAllBytes(path), GatewayJson.Options) ?? throw new JsonException("null"));
            }
            catch (Exception ex) when (ex is JsonException or IOException or NotSupportedException)
            {
                Log.Unreadable(logger, ex, path);
                File.Move(path, path + ".unreadable", overwrite: true);
            }
        }

        return kept;
    }

    /// <summary>A file name for a callback id, which may hold characters no file name may.</summary>
    private string PathOf(string callbackId) =>
        Path.Combine(_folder!, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(callbackId))) + ".json");

    private static partial class Log
    {
        [LoggerMessage(3134, LogLevel.Warning, "Callback {CallbackId} (card {CardId}), answered {{}} before its commit, could not be kept on disk in {Folder}: should this process die before it commits, the click is lost")]
        public static partial void NotKept(ILogger logger, Exception exception, string callbackId, string cardId, string folder);

        [LoggerMessage(3136, LogLevel.Warning, "The kept copy of callback {CallbackId}, committed, could not be deleted from {Folder}: the next start finds it recorded and deletes it then")]
        public static partial void NotForgotten(ILogger logger, Exception exception, string callbackId, string folder);

        [LoggerMessage(3137, LogLevel.Error, "{Path} does not read as a kept click: set aside as .unreadable, not handled")]
        public static partial void Unreadable(ILogger logger, Exception exception, string path);
    }
}
