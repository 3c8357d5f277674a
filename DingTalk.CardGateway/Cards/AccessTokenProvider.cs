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
    ILogger<AccessTokenProvider> logger) : IDisposable
{
    private readonly SemaphoreSlim _fetchGate = new(1, 1);
    private volatile CachedToken? _current;

    /// <summary>The last token-call failure, for readiness (e.g. DingTalk's <c>invalidClientIdOrSecret</c>).</summary>
    public string? LastError { get; private set; }

    public async ValueTask<string> GetTokenAsync(CancellationToken cancellationToken)
    {
        var cached = _current;
        if (cached is not null && clock.GetUtcNow() < cached.RenewAt)
        {
            return cached.Value;
        }

        await _fetchGate.WaitAsync(cancellationToken);
        try
        {
            // Whoever waited behind the fetch takes its result.
            cached = _current;
            if (cached is not null && clock.GetUtcNow() < cached.RenewAt)
            {
                return cached.Value;
            }

            return (await FetchAsync(cancellationToken)).Value;
        }
        finally
        {
            _fetchGate.Release();
        }
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

    public void Dispose() => _fetchGate.Dispose();

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
            LastError = $"DingTalk refused the token call: {ex.Code} {ex.DingTalkMessage}";
            Log.TokenFetchFailed(logger, (int)ex.StatusCode, ex.Code, ex.DingTalkMessage);
            throw;
        }

        if (string.IsNullOrEmpty(response.AccessToken))
        {
            LastError = "DingTalk answered the token call without an accessToken.";
            throw new DingTalkApiException(System.Net.HttpStatusCode.BadGateway, "emptyAccessToken", LastError, null);
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

    private sealed record CachedToken(string Value, DateTimeOffset RenewAt);

    private static partial class Log
    {
        [LoggerMessage(1001, LogLevel.Information, "Fetched a DingTalk access token valid for {ExpireIn} s")]
        public static partial void TokenFetched(ILogger logger, long expireIn);

        [LoggerMessage(1002, LogLevel.Error, "DingTalk refused the access-token call: HTTP {Status} {Code}: {DingTalkMessage}")]
        public static partial void TokenFetchFailed(ILogger logger, int status, string? code, string? dingTalkMessage);

        [LoggerMessage(1003, LogLevel.Warning, "DingTalk no longer accepts the cached access token; fetching a new one")]
        public static partial void TokenInvalidated(ILogger logger);
    }
}
