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
    /// <summary><c>Sqlite</c> (default) or <c>Postgres</c>.</summary>
    public string Provider { get; set; } = "Sqlite";

    public string? ConnectionString { get; set; }
}
