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

    private static string Sentence(string key, string problem) =>
        $"{key} ({key.Replace(":", "__", StringComparison.Ordinal)}) {problem}.";
}
