using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Cards.Wire;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace DingTalk.CardGateway.Tests.Cards;

public class AccessTokenProviderTests
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2026-11-25T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly CountingOAuth _oauth = new();
    private readonly SecretMasker _masker = new(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());

    [Fact]
    public async Task Concurrent_callers_share_one_fetch()
    {
        var provider = CreateProvider();

        var tokens = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => provider.GetTokenAsync(CancellationToken.None).AsTask()));

        Assert.Equal(1, _oauth.Calls);
        Assert.All(tokens, t => Assert.Equal("token-1", t));
    }

    [Fact]
    public async Task Concurrent_callers_share_one_failed_fetch_too()
    {
        // DingTalk is down (or refuses the secret): twenty callers waiting for a token get the one fetch's failure,
        // instead of each fetching again in turn behind it.
        var answer = new TaskCompletionSource<AccessTokenResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        _oauth.Answer = answer.Task;
        var provider = CreateProvider();
        var callers = Enumerable.Range(0, 20).Select(_ => provider.GetTokenAsync(CancellationToken.None).AsTask()).ToList();
        await Eventually.TrueAsync(() => _oauth.Calls == 1, "the fetch under way");

        answer.SetException(new DingTalkApiException(System.Net.HttpStatusCode.ServiceUnavailable, "system.busy", "busy", null));

        foreach (var caller in callers)
        {
            await Assert.ThrowsAsync<DingTalkApiException>(() => caller);
        }

        Assert.Equal(1, _oauth.Calls);
    }

    [Fact]
    public async Task A_caller_that_gives_up_leaves_the_fetch_to_the_others()
    {
        var answer = new TaskCompletionSource<AccessTokenResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        _oauth.Answer = answer.Task;
        var provider = CreateProvider();
        using var impatient = new CancellationTokenSource();
        var first = provider.GetTokenAsync(impatient.Token).AsTask();
        var second = provider.GetTokenAsync(CancellationToken.None).AsTask();

        await impatient.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        answer.SetResult(new AccessTokenResponse("token-shared", 7200));

        Assert.Equal("token-shared", await second);
        Assert.Equal(1, _oauth.Calls);
    }

    [Fact]
    public async Task The_token_is_renewed_shortly_before_it_expires()
    {
        var provider = CreateProvider();
        await provider.GetTokenAsync(CancellationToken.None);

        _clock.Advance(TimeSpan.FromSeconds(7200) - TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1));
        Assert.Equal("token-1", await provider.GetTokenAsync(CancellationToken.None));

        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("token-2", await provider.GetTokenAsync(CancellationToken.None));
        Assert.Equal(2, _oauth.Calls);
    }

    [Fact]
    public async Task A_month_of_renewals_leaves_the_masker_a_few_tokens_to_look_for_not_every_token_ever_fetched()
    {
        // Every log property is searched for every secret the masker holds: a token kept for good after each renewal
        // (one every ~115 minutes) made that search, and the masker, grow for as long as the process ran.
        _oauth.Delay = TimeSpan.Zero;
        var provider = CreateProvider();
        var tokens = new List<string>();
        for (var renewal = 0; renewal < 400; renewal++) // a month of renewals
        {
            tokens.Add(await provider.GetTokenAsync(CancellationToken.None));
            _clock.Advance(TimeSpan.FromSeconds(7200) - TimeSpan.FromMinutes(5));
        }

        Assert.Equal(400, tokens.Distinct().Count());
        Assert.Equal(SecretMasker.AccessTokensKept, _masker.Count);
        foreach (var recent in tokens.TakeLast(2)) // the token in use, and the one before it (valid until its expiry)
        {
            Assert.Equal($"x {SecretMasker.Mask} y", _masker.Apply($"x {recent} y"));
        }
    }

    [Fact]
    public async Task Invalidating_the_current_token_makes_the_next_caller_fetch_once()
    {
        var provider = CreateProvider();
        var first = await provider.GetTokenAsync(CancellationToken.None);

        provider.Invalidate(first);
        provider.Invalidate(first);
        var second = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => provider.GetTokenAsync(CancellationToken.None).AsTask()));

        Assert.All(second, t => Assert.Equal("token-2", t));
        Assert.Equal(2, _oauth.Calls);
    }

    [Fact]
    public async Task Invalidating_an_old_token_keeps_the_newer_one()
    {
        var provider = CreateProvider();
        var first = await provider.GetTokenAsync(CancellationToken.None);
        provider.Invalidate(first);
        await provider.GetTokenAsync(CancellationToken.None);

        provider.Invalidate(first); // a slow caller reporting the token it had

        Assert.Equal("token-2", await provider.GetTokenAsync(CancellationToken.None));
        Assert.Equal(2, _oauth.Calls);
    }

    [Fact]
    public async Task A_refused_token_call_is_reported_for_readiness()
    {
        _oauth.Fail = new DingTalkApiException(System.Net.HttpStatusCode.BadRequest, "invalidClientIdOrSecret", "bad secret", "req-1");
        var provider = CreateProvider();

        await Assert.ThrowsAsync<DingTalkApiException>(() => provider.GetTokenAsync(CancellationToken.None).AsTask());

        Assert.Contains("invalidClientIdOrSecret", provider.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_call_that_cannot_reach_DingTalk_is_reported_for_readiness_too()
    {
        // Only DingTalk's refusals were kept: a probe that stopped waiting for a call DingTalk never answered had no reason left to give.
        _oauth.Fail = new HttpRequestException("Connection refused (127.0.0.1:9)", new System.Net.Sockets.SocketException(111));
        var provider = CreateProvider();

        await Assert.ThrowsAsync<HttpRequestException>(() => provider.GetTokenAsync(CancellationToken.None).AsTask());

        Assert.Equal("DingTalk could not be reached for a token (Connection refused (127.0.0.1:9)); check DingTalk:ApiBaseUrl and the network path to it.", provider.LastError);
    }

    [Fact]
    public async Task Readiness_stays_ready_on_a_token_still_valid_while_its_renewal_hangs_and_says_why_once_it_expires()
    {
        var provider = CreateProvider();
        await provider.GetTokenAsync(CancellationToken.None);
        var hung = new TaskCompletionSource<AccessTokenResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        _oauth.Answer = hung.Task;
        var readiness = new DingTalkTokenHealthCheck(provider, _clock);
        _clock.Advance(TimeSpan.FromSeconds(7200) - TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1)); // due for renewal, not expired

        var renewing = await ProbeAsync(readiness);
        var again = await ProbeAsync(readiness);
        _clock.Advance(TimeSpan.FromMinutes(5));
        var expired = await ProbeAsync(readiness);

        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, renewing.Status);
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, again.Status);
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy, expired.Status);
        Assert.StartsWith("DingTalk has not answered the token call yet (", expired.Description, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => _oauth.Calls >= 2, "the renewal the first probe started"); // it starts beside the probe
        Assert.Equal(2, _oauth.Calls); // the first token, and one renewal however many probes
        hung.SetResult(new AccessTokenResponse("token-late", 7200));
    }

    [Fact]
    public async Task Readiness_stays_ready_on_a_token_still_valid_when_its_renewal_fails_at_once_as_when_it_hangs()
    {
        // Whether the renewal hangs (a black hole) or fails at once (a refused connection, a 503) is no matter to the token
        // held: calls carry it until it expires. Readiness said ready for the one and not ready for the other.
        var provider = CreateProvider();
        await provider.GetTokenAsync(CancellationToken.None);
        var refused = new TaskCompletionSource<AccessTokenResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        _oauth.Answer = refused.Task;
        var readiness = new DingTalkTokenHealthCheck(provider, _clock);
        _clock.Advance(TimeSpan.FromSeconds(7200) - TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1)); // due for renewal, not expired

        var probe = readiness.CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext());
        await Eventually.TrueAsync(() => _oauth.Calls == 2, "the renewal the probe started");
        refused.SetException(new HttpRequestException("Connection refused (127.0.0.1:9)", new System.Net.Sockets.SocketException(111)));
        var renewing = await probe; // within the probe's wait: the clock has not moved
        _clock.Advance(TimeSpan.FromMinutes(5));
        var expired = await ProbeAsync(readiness);

        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, renewing.Status);
        Assert.Contains("Connection refused (127.0.0.1:9)", renewing.Description, StringComparison.Ordinal); // the renewal's failure, said
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy, expired.Status);
        Assert.Equal(provider.LastError, expired.Description);
    }

    /// <summary>A probe on the fake clock: it waits for a call under way at most <see cref="ReadinessWait.Bound"/>, which the test lets pass.</summary>
    private async Task<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult> ProbeAsync(DingTalkTokenHealthCheck readiness)
    {
        var probe = readiness.CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext());
        while (!probe.IsCompleted)
        {
            _clock.Advance(ReadinessWait.Bound);
            await Task.WhenAny(probe, Task.Delay(10));
        }

        return await probe;
    }

    private AccessTokenProvider CreateProvider()
    {
        var options = new DingTalkOptions { AppKey = "key", AppSecret = "secret-value" };
        var monitor = new StaticOptionsMonitor<DingTalkOptions>(options);
        var endpoint = new DingTalkEndpoint(Options.Create(options), new NoServer()); // Live: the configured address
        return new AccessTokenProvider(_oauth, endpoint, monitor, _clock, _masker, NullLogger<AccessTokenProvider>.Instance);
    }

    private sealed class NoServer : Microsoft.AspNetCore.Hosting.Server.IServer
    {
        public Microsoft.AspNetCore.Http.Features.IFeatureCollection Features { get; } = new Microsoft.AspNetCore.Http.Features.FeatureCollection();

        public Task StartAsync<TContext>(Microsoft.AspNetCore.Hosting.Server.IHttpApplication<TContext> application, CancellationToken cancellationToken)
            where TContext : notnull => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public void Dispose()
        {
        }
    }

    private sealed class CountingOAuth : IDingTalkOAuthApi
    {
        private int _calls;

        public int Calls => _calls;

        public Exception? Fail { get; set; }

        /// <summary>When set, every call answers with it (the test completes it), instead of a token after 20 ms.</summary>
        public Task<AccessTokenResponse>? Answer { get; set; }

        public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(20);

        public async Task<AccessTokenResponse> GetAccessTokenAsync(AccessTokenRequest request, CancellationToken cancellationToken)
        {
            var n = Interlocked.Increment(ref _calls);
            if (Answer is { } answer)
            {
                return await answer.WaitAsync(cancellationToken);
            }

            await Task.Delay(Delay, cancellationToken); // long enough for concurrent callers to pile up behind the fetch
            return Fail is null ? new AccessTokenResponse($"token-{n}", 7200) : throw Fail;
        }
    }
}
