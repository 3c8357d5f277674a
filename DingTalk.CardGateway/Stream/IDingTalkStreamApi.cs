using DingTalk.CardGateway.Stream.Wire;
using Refit;

namespace DingTalk.CardGateway.Stream;

/// <summary>DingTalk's Stream gateway: one call, authenticated by the app's credentials in the body, not a token.</summary>
public interface IDingTalkStreamApi
{
    /// <summary>Every (re)connect needs a fresh ticket from here; the <c>Accept: application/json</c> header is set on the client.</summary>
    [Post("/v1.0/gateway/connections/open")]
    Task<OpenConnectionResponse> OpenConnectionAsync([Body] OpenConnectionRequest request, CancellationToken cancellationToken);
}
