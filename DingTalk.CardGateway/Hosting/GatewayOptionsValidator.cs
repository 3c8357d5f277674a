using DingTalk.CardGateway.Callbacks;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Hosting;

/// <summary>Storage settings that would run but make no sense; each failure names the configuration key.</summary>
public sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    /// <summary>
    /// A callback's record is its deduplication key, and a signed delivery stays acceptable for its window either way
    /// of its timestamp: the robot scheme's hour (<see cref="RobotCallbackSignature.Window"/>, longer than any
    /// <c>DingTalk:Callback:SignatureWindow</c> allowed), so up to two hours after it first came. Purged sooner, the same
    /// delivery replayed is handled again.
    /// </summary>
    public static readonly TimeSpan MinimumRetention = 2 * RobotCallbackSignature.Window;

    /// <summary>Ten years: beyond that the purge's cutoff would not fit a date.</summary>
    public static readonly TimeSpan MaximumRetention = TimeSpan.FromDays(3650);

    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var storage = options.Storage;
        var failures = new List<string>();
        if (!string.Equals(storage.Provider, StorageOptions.Sqlite, StringComparison.OrdinalIgnoreCase)
            && !string.Equals(storage.Provider, StorageOptions.Postgres, StringComparison.OrdinalIgnoreCase))
        {
            failures.Add(Sentence("Gateway:Storage:Provider", $"must be {StorageOptions.Sqlite} or {StorageOptions.Postgres}, not '{storage.Provider}'"));
        }
        else if (OtherProvidersConnectionString(storage) is { } mismatch)
        {
            failures.Add(Sentence("Gateway:Storage:ConnectionString", mismatch));
        }

        if (storage.Retention < MinimumRetention || storage.Retention > MaximumRetention)
        {
            failures.Add(Sentence(
                "Gateway:Storage:Retention",
                $"must be between {MinimumRetention} and {MaximumRetention.TotalDays:0} days, not {storage.Retention}: callbacks are "
                + "deduplicated by their records, which must outlive the time a signed delivery can be replayed"));
        }

        if (storage.StartupWait < TimeSpan.Zero)
        {
            failures.Add(Sentence("Gateway:Storage:StartupWait", "must not be negative"));
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>
    /// A connection string written for the other provider: Provider=Postgres with appsettings.json's SQLite default left
    /// in place failed with Npgsql's "Couldn't set data source", naming neither key. The string itself is never
    /// quoted: a PostgreSQL one holds its password.
    /// </summary>
    private static string? OtherProvidersConnectionString(StorageOptions storage)
    {
        var postgres = string.Equals(storage.Provider, StorageOptions.Postgres, StringComparison.OrdinalIgnoreCase);
        if (string.IsNullOrWhiteSpace(storage.ConnectionString))
        {
            return postgres ? "is required with Gateway:Storage:Provider Postgres: an Npgsql connection string (Host=…;Database=…;Username=…;Password=…)" : null;
        }

        HashSet<string> keys;
        try
        {
            keys = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = storage.ConnectionString }.Keys.Cast<string>()
                .Select(key => key.Replace(" ", "", StringComparison.Ordinal))
                .ToHashSet(StringComparer.OrdinalIgnoreCase);
        }
        catch (ArgumentException)
        {
            return null; // not even key=value pairs: the provider says what is wrong with it
        }

        var names = keys.Contains("Host") || keys.Contains("Server");
        var sqlite = keys.Contains("DataSource") || keys.Contains("Filename");
        return postgres && sqlite && !names
            ? "looks like a SQLite connection string (a Data Source, the default's) while Gateway:Storage:Provider is Postgres: "
                + "set Gateway:Storage:ConnectionString to PostgreSQL's (Host=…;Database=…;Username=…;Password=…), or the Provider to Sqlite"
            : !postgres && names
            ? "looks like a PostgreSQL connection string (a Host) while Gateway:Storage:Provider is Sqlite: "
                + "set Gateway:Storage:Provider to Postgres, or the ConnectionString to SQLite's (Data Source=data/cardgateway.db)"
            : null;
    }

    private static string Sentence(string key, string problem) =>
        $"{key} ({key.Replace(":", "__", StringComparison.Ordinal)}) {problem}.";
}
