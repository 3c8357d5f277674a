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

    /// <summary>
    /// Access tokens looked for, the newest ones: a token lives 2 hours and is renewed shortly before it expires, so the
    /// one in use and the one before it (valid for a few minutes more) are all that can still be a credential. Each
    /// kept for good made every log property's search longer, renewal after renewal, for as long as the process ran.
    /// </summary>
    public const int AccessTokensKept = 8;

    private readonly Lock _gate = new();
    private readonly List<string> _configured = [];
    private readonly Queue<string> _tokens = new();

    // What Apply searches for: a new array at each change (rare), read without a lock.
    private volatile string[] _secrets = [];

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

    /// <summary>How many secrets it looks for.</summary>
    public int Count => _secrets.Length;

    /// <summary>Registers a secret, for good; very short values are ignored since masking them would blank ordinary text.</summary>
    public void Add(string? secret)
    {
        if (string.IsNullOrEmpty(secret) || secret.Length < 6)
        {
            return;
        }

        lock (_gate)
        {
            if (!_configured.Contains(secret, StringComparer.Ordinal))
            {
                _configured.Add(secret);
                Publish();
            }
        }
    }

    /// <summary>Registers an access token as it is fetched: the newest <see cref="AccessTokensKept"/> are looked for.</summary>
    public void AddAccessToken(string? token)
    {
        if (string.IsNullOrEmpty(token) || token.Length < 6)
        {
            return;
        }

        lock (_gate)
        {
            if (_tokens.Contains(token, StringComparer.Ordinal))
            {
                return; // DingTalk answers a token call with the same token while it is valid
            }

            _tokens.Enqueue(token);
            while (_tokens.Count > AccessTokensKept)
            {
                _tokens.Dequeue();
            }

            Publish();
        }
    }

    public string Apply(string text)
    {
        foreach (var secret in _secrets)
        {
            if (text.Contains(secret, StringComparison.Ordinal))
            {
                text = text.Replace(secret, Mask, StringComparison.Ordinal);
            }
        }

        // The robot-card callback path carries a per-card credential.
        return RobotCardToken().Replace(text, "/robot-card/" + Mask);
    }

    private void Publish() => _secrets = [.. _configured, .. _tokens.Where(token => !_configured.Contains(token, StringComparer.Ordinal))];

    [GeneratedRegex("/robot-card/[A-Za-z0-9_-]{8,}")]
    private static partial Regex RobotCardToken();
}
