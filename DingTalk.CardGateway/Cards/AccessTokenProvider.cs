using System.Diagnostics;
using DingTalk.CardGateway.Cards.Wire;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Cards;

/// <summary>
/// One DingTalk access token for the whole process: fetched once, shared by every concurrent caller,
/// renewed shortly before <c>expireIn</c> runs out, and dropped when DingTalk says it is no longer valid.
/// </summary>
public sealed partial class AccessTokenProvider(
    IDingTalkOAuthApi oauth,
    DingTalkEndpoint endpoint,
    IOptionsMonitor<DingTalkOptions> options,
    TimeProvider clock,
    SecretMasker masker,
    ILogger<AccessTokenProvider> logger)
{
    /// <summary>Set within <see cref="CallerReportsRefusal"/>: this caller says a refused token call in its own line.</summary>
    private static readonly AsyncLocal<bool> CallerReports = new();

    private readonly Lock _gate = new();
    private volatile CachedToken? _current;
    private SharedFetch? _fetching;

    /// <summary>
    /// The last token call's failure as readiness says it, whatever failed: DingTalk's refusal (e.g.
    /// <c>invalidClientIdOrSecret</c>), the network's own words, or how long DingTalk left it unanswered. Null once a
    /// token call succeeds.
    /// </summary>
    public string? LastError { get; private set; }

    /// <remarks>
    /// Callers who find no valid token all wait on one fetch, and share its failure too: a refused or unreachable token
    /// call is made once for all of them, not once per waiter in turn (twenty waiters behind a DingTalk outage would
    /// otherwise each run the whole retry pipeline, one after another). A caller's token cancels only its own wait.
    /// </remarks>
    public async ValueTask<string> GetTokenAsync(CancellationToken cancellationToken)
    {
        var cached = _current;
        if (cached is not null && clock.GetUtcNow() < cached.RenewAt)
        {
            return cached.Value;
        }

        Task<CachedToken> fetching;
        lock (_gate)
        {
            cached = _current;
            if (cached is not null && clock.GetUtcNow() < cached.RenewAt)
            {
                return cached.Value;
            }

            fetching = StartOrJoinFetch().Task;
        }

        return (await fetching.WaitAsync(cancellationToken)).Value;
    }

    /// <summary>
    /// For readiness, which must answer at once whatever DingTalk does: null while the token held needs no renewal;
    /// else the one fetch under way (started if none is, joined otherwise: probes never add a call), for the caller to
    /// wait on only as long as it can afford. Its outcome lands in <see cref="LastError"/> whether or not anyone waits.
    /// </summary>
    public PendingFetch? FetchIfDue()
    {
        lock (_gate)
        {
            var cached = _current;
            var now = clock.GetUtcNow();
            if (cached is not null && now < cached.RenewAt)
            {
                return null;
            }

            var fetch = StartOrJoinFetch();
            return new PendingFetch(fetch.Task, fetch.StartedAt, cached is not null && now < cached.ExpiresAt);
        }
    }

    /// <summary>A token fetch under way.</summary>
    /// <param name="Task">Ends with the fetch (its failure is in <see cref="LastError"/>).</param>
    /// <param name="StartedAt">When it began, a <see cref="TimeProvider"/> timestamp.</param>
    /// <param name="TokenStillValid">The token it renews has not expired yet: calls still carry it meanwhile.</param>
    public sealed record PendingFetch(Task Task, long StartedAt, bool TokenStillValid);

    /// <summary>Called under the gate.</summary>
    private SharedFetch StartOrJoinFetch()
    {
        if (_fetching is null)
        {
            var fetch = _fetching = new SharedFetch(clock.GetTimestamp());

            // Everyone's fetch, so not in the first caller's log scope: its lines would carry that caller's HTTP call
            // (the Uri of a callback registration, in Sandbox mode on a placeholder host) and request; they carry the token
            // call's own instead. Its trace holds it still.
            var caller = Activity.Current;
            using (ExecutionContext.SuppressFlow())
            {
                fetch.Task = Task.Run(() => FetchSharedAsync(fetch, caller));
            }

            // A probe may stop waiting on it: its failure is in LastError, not an unobserved exception.
            _fetching.Task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        _fetching.Unreported |= !CallerReports.Value;
        return _fetching;
    }

    /// <summary>
    /// Within the returned scope, a refused token call is this caller's to say, in its own line with DingTalk's reason
    /// (registration's 3203 each attempt; readiness): the provider logs it at Debug (1106) instead of as error 1002, so
    /// a wrong AppSecret is one line per registration attempt and none per readiness probe. A fetch another caller
    /// waited on too, outside such a scope (the outbox, an admin request, a handler's own call), still logs 1002.
    /// </summary>
    public static RefusalScope CallerReportsRefusal()
    {
        var previous = CallerReports.Value;
        CallerReports.Value = true;
        return new RefusalScope(previous);
    }

    /// <summary>Ends <see cref="CallerReportsRefusal"/>.</summary>
    public readonly struct RefusalScope(bool previous) : IDisposable
    {
        public void Dispose() => CallerReports.Value = previous;
    }

    /// <summary>Forgets <paramref name="token"/> if it is still the current one, so the next caller fetches anew.</summary>
    public void Invalidate(string token)
    {
        var cached = _current;
        if (cached is not null && cached.Value == token)
        {
            Interlocked.CompareExchange(ref _current, null, cached);
            Log.TokenInvalidated(logger);
        }
    }

    /// <summary>
    /// The one fetch under way; it ends (success or failure) by making room for the next one. A refusal is logged once
    /// it ends, when every caller that waited on it is known: error 1002 unless each of them says it itself.
    /// </summary>
    private async Task<CachedToken> FetchSharedAsync(SharedFetch fetch, Activity? caller)
    {
        // On the thread pool (Task.Run): the caller, holding the gate, publishes this task before the fetch can end and clear it.
        Activity.Current = caller;
        using var call = logger.BeginScope(new KeyValuePair<string, object?>[]
        {
            new("HttpMethod", "POST"),
            new("Uri", endpoint.BaseAddress.ToString().TrimEnd('/') + IDingTalkOAuthApi.AccessTokenPath),
        });
        DingTalkApiException? refused = null;
        try
        {
            return await FetchAsync(CancellationToken.None); // everyone's fetch, not one caller's to cancel
        }
        catch (Exception ex)
        {
            LastError = Describe(ex, clock.GetElapsedTime(fetch.StartedAt));
            refused = ex is DingTalkApiException { Code: not EmptyAccessToken } refusal ? refusal : null;
            throw;
        }
        finally
        {
            bool unreported;
            lock (_gate)
            {
                _fetching = null;
                unreported = fetch.Unreported;
            }

            if (refused is not null)
            {
                var keys = DingTalkErrors.KeysToCheck(refused.Code);
                if (unreported)
                {
                    Log.TokenFetchFailed(logger, (int)refused.StatusCode, refused.Code, refused.DingTalkMessage, keys, refused.RequestId);
                }
                else
                {
                    Log.TokenFetchFailedReported(logger, (int)refused.StatusCode, refused.Code, refused.DingTalkMessage, keys, refused.RequestId);
                }
            }
        }
    }

    private async Task<CachedToken> FetchAsync(CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        var response = await oauth.GetAccessTokenAsync(new AccessTokenRequest(o.AppKey ?? "", o.AppSecret ?? ""), cancellationToken);
        if (string.IsNullOrEmpty(response.AccessToken))
        {
            throw new DingTalkApiException(System.Net.HttpStatusCode.BadGateway, EmptyAccessToken, "DingTalk answered the token call without an accessToken.", null);
        }

        masker.AddAccessToken(response.AccessToken);
        var lifetime = TimeSpan.FromSeconds(Math.Max(1, response.ExpireIn));
        var margin = o.Outbound.TokenRefreshMargin < lifetime ? o.Outbound.TokenRefreshMargin : lifetime / 2;
        var now = clock.GetUtcNow();
        var token = new CachedToken(response.AccessToken, now + lifetime - margin, now + lifetime);
        _current = token;
        LastError = null;
        Log.TokenFetched(logger, response.ExpireIn);
        return token;
    }

    /// <summary>
    /// A failed token call in readiness's words: DingTalk's refusal, or what the network said (Refit's wrapper's type
    /// name says nothing), or how long DingTalk left it unanswered.
    /// </summary>
    private static string Describe(Exception exception, TimeSpan took) => DingTalkErrors.CauseOf(exception) switch
    {
        DingTalkApiException { Code: EmptyAccessToken } empty => empty.DingTalkMessage ?? empty.Message,
        DingTalkApiException refused => $"DingTalk refused the token call: {refused.Code} {refused.DingTalkMessage}{DingTalkErrors.KeysToCheck(refused.Code)}",
        OperationCanceledException or Polly.Timeout.TimeoutRejectedException => $"DingTalk did not answer the token call within {took.TotalSeconds:0.#} s; {CheckThePath}",
        Polly.CircuitBreaker.BrokenCircuitException => $"DingTalk failed repeatedly, so calls to it are paused (circuit open); {CheckThePath}",
        var cause => $"DingTalk could not be reached for a token ({cause.Message}); {CheckThePath}",
    };

    private const string CheckThePath = DingTalkErrors.CheckTheNetworkPath + ".";

    private const string EmptyAccessToken = "emptyAccessToken";

    private sealed record CachedToken(string Value, DateTimeOffset RenewAt, DateTimeOffset ExpiresAt);

    /// <summary>A fetch, when it began, and whether any caller waiting on it leaves a refusal to the provider to say.</summary>
    private sealed class SharedFetch(long startedAt)
    {
        public Task<CachedToken> Task { get; set; } = null!;

        public long StartedAt { get; } = startedAt;

        /// <summary>Written and read under the gate only.</summary>
        public bool Unreported { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(1001, LogLevel.Information, "Fetched a DingTalk access token valid for {ExpireIn} s")]
        public static partial void TokenFetched(ILogger logger, long expireIn);

        [LoggerMessage(1002, LogLevel.Error, "DingTalk refused the access-token call: HTTP {Status} {Code}: {DingTalkMessage}{KeysToCheck:l} (requestid {RequestId})")]
        public static partial void TokenFetchFailed(ILogger logger, int status, string? code, string? dingTalkMessage, string keysToCheck, string? requestId);

        [LoggerMessage(1106, LogLevel.Debug, "DingTalk refused the access-token call: HTTP {Status} {Code}: {DingTalkMessage}{KeysToCheck:l} (requestid {RequestId}; said by its caller)")]
        public static partial void TokenFetchFailedReported(ILogger logger, int status, string? code, string? dingTalkMessage, string keysToCheck, string? requestId);

        [LoggerMessage(1003, LogLevel.Warning, "DingTalk no longer accepts the cached access token; fetching a new one")]
        public static partial void TokenInvalidated(ILogger logger);
    }
}
