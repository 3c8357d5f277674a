using System.Threading.RateLimiting;
using DingTalk.CardGateway.Hosting;

namespace DingTalk.CardGateway.Cards;

/// <summary>
/// Keeps each DingTalk API under its QPS limit (20 per app and API). Sits inside the retry policy, so every
/// attempt takes a permit. The limiter itself is a singleton shared by all clients (see <see cref="Create"/>).
/// </summary>
public sealed class ApiRateLimitingHandler(PartitionedRateLimiter<HttpRequestMessage> limiter) : DelegatingHandler
{
    /// <summary>A sliding one-second window per method and path, with a bounded queue.</summary>
    public static PartitionedRateLimiter<HttpRequestMessage> Create(OutboundOptions options) =>
        PartitionedRateLimiter.Create<HttpRequestMessage, string>(request =>
            RateLimitPartition.GetSlidingWindowLimiter(
                $"{request.Method} {request.RequestUri?.AbsolutePath}",
                _ => new SlidingWindowRateLimiterOptions
                {
                    PermitLimit = options.PermitsPerSecondPerApi,
                    Window = TimeSpan.FromSeconds(1),
                    SegmentsPerWindow = 10,
                    QueueLimit = options.QueueLimitPerApi,
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                }));

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var lease = await limiter.AcquireAsync(request, 1, cancellationToken);
        if (!lease.IsAcquired)
        {
            throw new DingTalkApiException(
                System.Net.HttpStatusCode.TooManyRequests,
                "gateway.rateLimitQueueFull",
                $"Too many calls to {request.RequestUri?.AbsolutePath} are already waiting for the client-side rate limit.",
                null);
        }

        return await base.SendAsync(request, cancellationToken);
    }
}
