using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>Settings written as environment variables (<c>DingTalk__AppKey</c>), as an operator or a container gives them.</summary>
public static class EnvironmentSettings
{
    /// <summary>
    /// The gateway's options bound from <paramref name="variables"/> (an empty value as a value filled in: <see cref="FilledIn"/>).
    /// A misspelt key, which the gateway would silently ignore, throws here; read the options to have them validated as at startup.
    /// </summary>
    public static ServiceProvider Bind(IEnumerable<KeyValuePair<string, string>> variables)
    {
        var settings = variables.ToDictionary(
            kv => kv.Key.Replace("__", ":", StringComparison.Ordinal), kv => (string?)(kv.Value.Length > 0 ? kv.Value : FilledIn(kv.Key)));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        configuration.GetSection(DingTalkOptions.Section).Get<DingTalkOptions>(o => o.ErrorOnUnknownConfiguration = true);
        configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>(o => o.ErrorOnUnknownConfiguration = true);
        return new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddGatewayOptions().BuildServiceProvider();
    }

    /// <summary>What an operator would put in a setting left for them to fill in: a URL of their own for a URL.</summary>
    public static string FilledIn(string key) =>
        key.EndsWith("Url", StringComparison.Ordinal) ? "https://filled-in-value.test" : "filled-in-value";
}
