namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>A test's SQLite database file, and the files SQLite and the gateway keep beside it.</summary>
public static class SqliteFiles
{
    /// <summary>Deletes the database at <paramref name="path"/> with its WAL, its shared memory, the gateway's lock file, its clicks kept on disk and Sandbox mode's emulator file, once no pooled connection holds them.</summary>
    public static void Delete(string path)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm", ".lock" })
        {
            File.Delete(path + suffix);
        }

        File.Delete(Path.ChangeExtension(path, ".sandbox.json")); // Sandbox mode's emulated DingTalk
        if (Directory.Exists(path + ".answered-early"))
        {
            Directory.Delete(path + ".answered-early", recursive: true); // clicks answered {} before their commit, kept on disk
        }
    }
}
