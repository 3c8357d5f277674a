using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// The base URL DingTalk calls us back at: <c>DingTalk:Callback:PublicBaseUrl</c>, or in Sandbox mode (where the
/// emulator runs inside this process) the address the server listens on.
/// </summary>
public sealed class CallbackBaseUrl(IOptionsMonitor<DingTalkOptions> options, IServer server)
{
    public Uri Get() =>
        options.CurrentValue.Callback.PublicBaseUrl ?? new Uri(DingTalkEndpoint.SelfAddress(server) + "/");

    /// <summary>
    /// The base URL to give DingTalk with a card (a normal robot card's <c>callbackUrl</c>), or null when there is none: in
    /// Live mode only <c>DingTalk:Callback:PublicBaseUrl</c>, which a Stream-only deployment may leave unset — the address
    /// this process listens on (127.0.0.1) is no URL DingTalk can reach.
    /// </summary>
    public Uri? ForCards() =>
        options.CurrentValue is { EffectiveMode: GatewayMode.Live, Callback.PublicBaseUrl: null } ? null : Get();
}
