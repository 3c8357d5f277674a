using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Hosting;

/// <summary>Range checks from the data annotations on <see cref="DingTalkOptions"/>, source-generated.</summary>
[OptionsValidator]
public sealed partial class DingTalkOptionsRangeValidator : IValidateOptions<DingTalkOptions>;

/// <summary>What a Live deployment cannot run without; each failure names the configuration key.</summary>
public sealed class DingTalkOptionsValidator : IValidateOptions<DingTalkOptions>
{
    public ValidateOptionsResult Validate(string? name, DingTalkOptions options)
    {
        // A URL without its scheme ("cards.example.com") binds as a relative one: registered with DingTalk, or called, it
        // could never be reached.
        var unusable = new List<string>();
        if (!IsHttpUrl(options.ApiBaseUrl))
        {
            unusable.Add(NotAUrl("DingTalk:ApiBaseUrl", options.ApiBaseUrl, "https://api.dingtalk.com"));
        }

        if (options.Callback.PublicBaseUrl is { } publicBaseUrl && !IsHttpUrl(publicBaseUrl))
        {
            unusable.Add(NotAUrl("DingTalk:Callback:PublicBaseUrl", publicBaseUrl, "https://cards.example.com"));
        }

        unusable.AddRange(PreviousApiSecretProblems(options.Callback));
        if (unusable.Count > 0)
        {
            return ValidateOptionsResult.Fail(unusable);
        }

        if (options.EffectiveMode != GatewayMode.Live)
        {
            return ValidateOptionsResult.Success;
        }

        var missing = new List<string>();
        if (string.IsNullOrWhiteSpace(options.AppKey))
        {
            missing.Add("DingTalk:AppKey");
        }

        if (string.IsNullOrWhiteSpace(options.AppSecret))
        {
            missing.Add("DingTalk:AppSecret");
        }

        if (!options.Stream.Enabled)
        {
            // HTTP callbacks: DingTalk must be able to reach us and sign what it sends.
            if (options.Callback.PublicBaseUrl is null)
            {
                missing.Add("DingTalk:Callback:PublicBaseUrl");
            }
            else if (IsDocumentationDomain(options.Callback.PublicBaseUrl))
            {
                // docker/.env.example and the README write https://cards.example.com: left in place, it would be registered
                // with DingTalk and minted into robot cards, and no click would ever come.
                return ValidateOptionsResult.Fail(
                    $"DingTalk:Callback:PublicBaseUrl (DingTalk__Callback__PublicBaseUrl) is '{options.Callback.PublicBaseUrl.OriginalString}', on a domain kept for examples that DingTalk can never reach: set the public HTTPS URL DingTalk reaches this gateway at, or turn on Stream mode (DingTalk:Stream:Enabled) if it has none.");
            }

            if (string.IsNullOrWhiteSpace(options.Callback.ApiSecret))
            {
                missing.Add("DingTalk:Callback:ApiSecret");
            }
        }

        return missing.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(missing.Select(key =>
                $"{key} is required in Live mode (set it in appsettings.json or as the environment variable {key.Replace(":", "__", StringComparison.Ordinal)})."));
    }

    /// <summary>
    /// Each previous secret is a value (an empty entry is a variable set to nothing, which would read as "accept anything
    /// that verifies under nothing"), unlike the current secret and the others, and beside a current one: a rotation
    /// from a secret, to a secret. Said by position, never by value.
    /// </summary>
    private static IEnumerable<string> PreviousApiSecretProblems(CallbackOptions callback)
    {
        const string Key = "DingTalk:Callback:PreviousApiSecrets";
        var previous = callback.PreviousApiSecrets;
        if (previous.Count > 0 && string.IsNullOrWhiteSpace(callback.ApiSecret))
        {
            yield return $"{Key} is set but DingTalk:Callback:ApiSecret is not: previous secrets are accepted beside the current one while it is rotated, not instead of it.";
        }

        for (var i = 0; i < previous.Count; i++)
        {
            var entry = $"{Key}:{i} ({Key.Replace(":", "__", StringComparison.Ordinal)}__{i})";
            if (string.IsNullOrWhiteSpace(previous[i]))
            {
                yield return $"{entry} is empty: give the secret, or remove the entry.";
            }
            else if (string.Equals(previous[i], callback.ApiSecret, StringComparison.Ordinal))
            {
                yield return $"{entry} is DingTalk:Callback:ApiSecret itself: list only secrets used before it.";
            }
            else if (previous.IndexOf(previous[i]) < i)
            {
                yield return $"{entry} repeats {Key}:{previous.IndexOf(previous[i])}.";
            }
        }
    }

    /// <summary>Kept for documentation (RFC 2606), never anyone's server.</summary>
    private static readonly string[] DocumentationDomains = ["example.com", "example.net", "example.org"];

    /// <summary>A <see cref="DocumentationDomains"/> host or a name under one.</summary>
    private static bool IsDocumentationDomain(Uri url) =>
        url.IsAbsoluteUri && DocumentationDomains.Any(domain =>
            url.IdnHost.Equals(domain, StringComparison.OrdinalIgnoreCase) || url.IdnHost.EndsWith("." + domain, StringComparison.OrdinalIgnoreCase));

    private static bool IsHttpUrl(Uri url) => url.IsAbsoluteUri && (url.Scheme == Uri.UriSchemeHttps || url.Scheme == Uri.UriSchemeHttp);

    private static string NotAUrl(string key, Uri value, string example) =>
        $"{key} ({key.Replace(":", "__", StringComparison.Ordinal)}) must be an absolute http(s) URL such as {example}, not '{value.OriginalString}'.";
}
