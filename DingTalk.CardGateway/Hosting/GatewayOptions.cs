namespace DingTalk.CardGateway.Hosting;

/// <summary>The <c>Gateway</c> configuration section: our own settings, not DingTalk's.</summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>Keys accepted in the <c>X-Api-Key</c> header on <c>/api/*</c>. Empty means the admin API is closed.</summary>
    public List<string> AdminApiKeys { get; set; } = [];

    public StorageOptions Storage { get; set; } = new();
}

public sealed class StorageOptions
{
    public const string Sqlite = "Sqlite";
    public const string Postgres = "Postgres";
    public const string DefaultSqlite = "Data Source=data/cardgateway.db";

    /// <summary><c>Sqlite</c> (default, a file under the content root) or <c>Postgres</c>.</summary>
    public string Provider { get; set; } = Sqlite;

    /// <summary>For SQLite a relative <c>Data Source</c> is under the content root; for PostgreSQL an Npgsql connection string.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Callbacks (and so their deduplication keys) and sent outbox entries older than this are purged.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How long startup keeps trying a database that is not reachable yet (connection refused, still starting) before it gives up.</summary>
    public TimeSpan StartupWait { get; set; } = TimeSpan.FromMinutes(1);
}
