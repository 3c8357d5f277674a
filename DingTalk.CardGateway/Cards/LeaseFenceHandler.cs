using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Cards;

/// <summary>
/// Checks each attempt of a call made under a per-card lease against its <see cref="LeaseFence"/>, just before it goes
/// on the wire: after the retry policy's waits and the rate limiter's, so no wait comes between the check and the send.
/// </summary>
public sealed class LeaseFenceHandler : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        LeaseFence.EnsureHeld();
        return base.SendAsync(request, cancellationToken);
    }
}
