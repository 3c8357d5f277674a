using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// Knows every secret the process holds (AppSecret, ApiSecret and its previous ones, admin keys, the typewriter model's API key,
/// access tokens as they are fetched)
/// and blanks them out of any text. The logging pipeline runs every log property through it.
/// </summary>
public sealed partial class SecretMasker
{
    public const string Mask = "***";
    private readonly ConcurrentDictionary<string, byte> _secrets = new(StringComparer.Ordinal);

    /// <summary>Reads the secrets from raw configuration: the logger exists before options are validated.</summary>
    public SecretMasker(IConfiguration configuration)
    {
        Add(configuration["DingTalk:AppSecret"]);
        Add(configuration["DingTalk:Callback:ApiSecret"]);
        foreach (var previous in configuration.GetSection("DingTalk:Callback:PreviousApiSecrets").GetChildren())
        {
            Add(previous.Value);
        }

        foreach (var key in configuration.GetSection("Gateway:AdminApiKeys").GetChildren())
        {
            Add(key.Value);
        }

        Add(configuration["Gateway:Handlers:Llm:ApiKey"]);
    }

    /// <summary>Registers a secret; very short values are ignored since masking them would blank ordinary text.</summary>
    public void Add(string? secret)
    {
        if (!string.IsNullOrEmpty(secret) && secret.Length >= 6)
        {
            _secrets.TryAdd(secret, 0);
        }
    }

    public string Apply(string text)
    {
        foreach (var secret in _secrets.Keys)
        {
            if (text.Contains(secret, StringComparison.Ordinal))
            {
                text = text.Replace(secret, Mask, StringComparison.Ordinal);
            }
        }

        // The robot-card callback path carries a per-card credential.
        return RobotCardToken().Replace(text, "/robot-card/" + Mask);
    }

    [GeneratedRegex("/robot-card/[A-Za-z0-9_-]{8,}")]
    private static partial Regex RobotCardToken();
}
