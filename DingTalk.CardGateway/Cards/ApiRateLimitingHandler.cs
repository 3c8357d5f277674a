using System.Threading.RateLimiting;
using DingTalk.CardGateway.Hosting;

namespace DingTalk.CardGateway.Cards;

/// <summary>
/// Keeps each DingTalk API under its QPS limit (20 per app and API). Sits inside the retry policy, so every
/// attempt takes a permit. The limiter itself is a singleton shared by all clients (see <see cref="Create"/>).
/// </summary>
public sealed class ApiRateLimitingHandler(PartitionedRateLimiter<HttpRequestMessage> limiter, SharedApiPace pace) : DelegatingHandler
{
    /// <summary>
    /// A token bucket per method and path, so calls are paced evenly: for P permits a second it holds B = ⌈P/10⌉ and
    /// refills P − B a second, so no one-second window — however DingTalk aligns its own — sees more than P (B at
    /// once, P − B over the second). B covers what one refill brings: the partitioned limiter refills its buckets every
    /// 100 ms, and a smaller bucket would overflow. A one-second sliding window (this limiter before) let P calls go at
    /// once and then none for up to a second: under steady load a hot card's update for everyone waited 1.0–1.4 s
    /// every ~1.5 s, and only ~12 of the 18 permits a second were used (bench/HISTORY.md, seventh session).
    /// </summary>
    public static PartitionedRateLimiter<HttpRequestMessage> Create(OutboundOptions options)
    {
        var burst = Math.Max(1, (options.PermitsPerSecondPerApi + 9) / 10);
        var refillPerSecond = Math.Max(1, options.PermitsPerSecondPerApi - burst);
        return PartitionedRateLimiter.Create<HttpRequestMessage, string>(request =>
            RateLimitPartition.GetTokenBucketLimiter(
                Api(request),
                _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = burst,
                    TokensPerPeriod = 1,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1.0 / refillPerSecond),
                    QueueLimit = options.QueueLimitPerApi,
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                }));
    }

    /// <summary>What DingTalk counts a limit by: the method and the path.</summary>
    public static string Api(HttpRequestMessage request) => $"{request.Method} {request.RequestUri?.AbsolutePath}";

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var lease = await limiter.AcquireAsync(request, 1, cancellationToken);
        if (!lease.IsAcquired)
        {
            throw QueueFull(request, "the client-side rate limit");
        }

        // Then its turn among every replica's calls (PostgreSQL): DingTalk's limit is per app, not per replica.
        if (!await pace.WaitForTurnAsync(Api(request), cancellationToken))
        {
            throw QueueFull(request, $"the rate limit all replicas share (their next free turn is more than {pace.MaxWait.TotalSeconds:0.#} s away)");
        }

        return await base.SendAsync(request, cancellationToken);
    }

    private static DingTalkApiException QueueFull(HttpRequestMessage request, string limit) =>
        new(System.Net.HttpStatusCode.TooManyRequests, "gateway.rateLimitQueueFull", $"Too many calls to {request.RequestUri?.AbsolutePath} are already waiting for {limit}.", null)
        {
            AfterUncertainAttempt = UncertainAttemptHandler.IsMarked(request), // this attempt never left; an earlier one may have
        };
}
