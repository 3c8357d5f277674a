namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The database was migrated by a newer build past a migration that builds before it cannot live with: this build must
/// not use it. The message is the operator's one line: the database's version, the version a build needs, and this one's.
/// </summary>
public sealed class SchemaTooNewException(int databaseVersion, int neededVersion, int buildVersion)
    : Exception(
        $"it is at schema version {databaseVersion}, migrated by a newer build, and a build must know schema version {neededVersion} "
        + $"or later to use it; this build knows versions up to {buildVersion}. Deploy a build of schema version {neededVersion} or later, "
        + "or restore the backup taken before that upgrade.")
{
    public int DatabaseVersion { get; } = databaseVersion;

    public int NeededVersion { get; } = neededVersion;

    public int BuildVersion { get; } = buildVersion;
}
