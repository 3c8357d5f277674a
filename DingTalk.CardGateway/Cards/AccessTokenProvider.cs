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

    /// <summary>The last token-call failure, for readiness (e.g. DingTalk's <c>invalidClientIdOrSecret</c>).</summary>
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

            if (_fetching is null)
            {
                _fetching = new SharedFetch();
                _fetching.Task = FetchSharedAsync(_fetching);
            }

            _fetching.Unreported |= !CallerReports.Value;
            fetching = _fetching.Task;
        }

        return (await fetching.WaitAsync(cancellationToken)).Value;
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
    private async Task<CachedToken> FetchSharedAsync(SharedFetch fetch)
    {
        await Task.Yield(); // the caller publishes this task under the lock before the fetch can end and clear it
        DingTalkApiException? refused = null;
        try
        {
            return await FetchAsync(CancellationToken.None); // everyone's fetch, not one caller's to cancel
        }
        catch (DingTalkApiException ex) when (ex.Code != EmptyAccessToken)
        {
            refused = ex;
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
                    Log.TokenFetchFailed(logger, (int)refused.StatusCode, refused.Code, refused.DingTalkMessage, keys);
                }
                else
                {
                    Log.TokenFetchFailedReported(logger, (int)refused.StatusCode, refused.Code, refused.DingTalkMessage, keys);
                }
            }
        }
    }

    private async Task<CachedToken> FetchAsync(CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        AccessTokenResponse response;
        try
        {
            response = await oauth.GetAccessTokenAsync(new AccessTokenRequest(o.AppKey ?? "", o.AppSecret ?? ""), cancellationToken);
        }
        catch (DingTalkApiException ex)
        {
            LastError = $"DingTalk refused the token call: {ex.Code} {ex.DingTalkMessage}{DingTalkErrors.KeysToCheck(ex.Code)}";
            throw;
        }

        if (string.IsNullOrEmpty(response.AccessToken))
        {
            LastError = "DingTalk answered the token call without an accessToken.";
            throw new DingTalkApiException(System.Net.HttpStatusCode.BadGateway, EmptyAccessToken, LastError, null);
        }

        masker.Add(response.AccessToken);
        var lifetime = TimeSpan.FromSeconds(Math.Max(1, response.ExpireIn));
        var margin = o.Outbound.TokenRefreshMargin < lifetime ? o.Outbound.TokenRefreshMargin : lifetime / 2;
        var token = new CachedToken(response.AccessToken, clock.GetUtcNow() + lifetime - margin);
        _current = token;
        LastError = null;
        Log.TokenFetched(logger, response.ExpireIn);
        return token;
    }

    private const string EmptyAccessToken = "emptyAccessToken";

    private sealed record CachedToken(string Value, DateTimeOffset RenewAt);

    /// <summary>A fetch and whether any caller waiting on it leaves a refusal to the provider to say.</summary>
    private sealed class SharedFetch
    {
        public Task<CachedToken> Task { get; set; } = null!;

        /// <summary>Written and read under the gate only.</summary>
        public bool Unreported { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(1001, LogLevel.Information, "Fetched a DingTalk access token valid for {ExpireIn} s")]
        public static partial void TokenFetched(ILogger logger, long expireIn);

        [LoggerMessage(1002, LogLevel.Error, "DingTalk refused the access-token call: HTTP {Status} {Code}: {DingTalkMessage}{KeysToCheck:l}")]
        public static partial void TokenFetchFailed(ILogger logger, int status, string? code, string? dingTalkMessage, string keysToCheck);

        [LoggerMessage(1106, LogLevel.Debug, "DingTalk refused the access-token call: HTTP {Status} {Code}: {DingTalkMessage}{KeysToCheck:l} (said by its caller)")]
        public static partial void TokenFetchFailedReported(ILogger logger, int status, string? code, string? dingTalkMessage, string keysToCheck);

        [LoggerMessage(1003, LogLevel.Warning, "DingTalk no longer accepts the cached access token; fetching a new one")]
        public static partial void TokenInvalidated(ILogger logger);
    }
}
