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
}
