using DingTalk.CardGateway.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Cards;

/// <summary>
/// Where the OpenAPI lives: <c>DingTalk:ApiBaseUrl</c>, or in Sandbox mode (unless that is set) the
/// gateway's own <c>/sandbox</c> emulator, found from the addresses the server listens on.
/// </summary>
public sealed class DingTalkEndpoint(IOptions<DingTalkOptions> options, IServer server)
{
    public static readonly Uri DefaultApiBaseUrl = new("https://api.dingtalk.com");

    public Uri BaseAddress => Configured(options.Value) ?? new Uri(SelfAddress(server) + "/sandbox");

    /// <summary>The address when the configuration alone gives it: always but in Sandbox mode without an ApiBaseUrl of its own.</summary>
    public static Uri? Configured(DingTalkOptions options) =>
        options.EffectiveMode != GatewayMode.Sandbox || options.ApiBaseUrl != DefaultApiBaseUrl ? options.ApiBaseUrl : null;

    /// <summary>The first address the server listens on, with a wildcard host made into loopback.</summary>
    public static string SelfAddress(IServer server)
    {
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses
            .OrderBy(a => a.StartsWith("https", StringComparison.Ordinal) ? 1 : 0)
            .FirstOrDefault() ?? "http://127.0.0.1:5000";
        return address
            .Replace("://+", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://*", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://0.0.0.0", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://[::]", "://127.0.0.1", StringComparison.Ordinal)
            .TrimEnd('/');
    }
}
