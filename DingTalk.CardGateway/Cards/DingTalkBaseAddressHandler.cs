namespace DingTalk.CardGateway.Cards;

/// <summary>
/// Points each call at <see cref="DingTalkEndpoint.BaseAddress"/> when it is sent, not when the client was made:
/// in Sandbox mode without an ApiBaseUrl of its own that address is the gateway's own, known only once the server
/// listens, while singletons such as the outbox dispatcher get their clients earlier. Refit then builds URIs on
/// <see cref="Placeholder"/>; this swaps the base. (Otherwise the clients are built on the configured address.)
/// </summary>
public sealed class DingTalkBaseAddressHandler(DingTalkEndpoint endpoint) : DelegatingHandler
{
    public static readonly Uri Placeholder = new("http://dingtalk.invalid/");

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri is { IsAbsoluteUri: true } uri && uri.Host == Placeholder.Host)
        {
            request.RequestUri = new Uri(endpoint.BaseAddress.ToString().TrimEnd('/') + uri.PathAndQuery);
        }

        return base.SendAsync(request, cancellationToken);
    }
}
