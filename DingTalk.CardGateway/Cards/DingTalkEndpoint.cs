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

    public Uri BaseAddress
    {
        get
        {
            var o = options.Value;
            if (o.EffectiveMode != GatewayMode.Sandbox || o.ApiBaseUrl != DefaultApiBaseUrl)
            {
                return o.ApiBaseUrl;
            }

            return new Uri(SelfAddress(server) + "/sandbox");
        }
    }

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
