using System.Net;
using System.Text;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;

namespace DingTalk.CardGateway.Tests.Cards;

/// <summary>
/// A call DingTalk cannot tell from its repeat (<see cref="SendOnce"/>, the robot send) is retried by the gateway's
/// resilience pipeline only after attempts that never reached DingTalk; other calls keep every retry.
/// </summary>
public class SendOnceTests
{
    public static TheoryData<string> MayHaveArrived => ["504", "connection broken after sending", "attempt timed out"];

    public static TheoryData<string> NeverArrived => ["connection refused", "429", "403 QpsLimit"];

    [Theory]
    [MemberData(nameof(MayHaveArrived))]
    public async Task A_call_sent_once_is_not_sent_again_after_an_attempt_that_may_have_reached_DingTalk(string firstAttempt)
    {
        var (attempts, once, _) = await SendAsync(firstAttempt, new SendOnce());

        Assert.Equal(1, attempts);
        Assert.True(once!.MayHaveArrived);
    }

    [Theory]
    [MemberData(nameof(NeverArrived))]
    public async Task A_call_sent_once_is_retried_after_an_attempt_that_never_reached_DingTalk(string firstAttempt)
    {
        var (attempts, once, status) = await SendAsync(firstAttempt, new SendOnce());

        Assert.Equal(2, attempts);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(once!.MayHaveArrived);
    }

    [Theory]
    [MemberData(nameof(MayHaveArrived))]
    public async Task Other_calls_are_retried_after_an_attempt_that_may_have_reached_DingTalk(string firstAttempt)
    {
        var (attempts, _, status) = await SendAsync(firstAttempt, sendOnce: null);

        Assert.Equal(2, attempts);
        Assert.Equal(HttpStatusCode.OK, status);
    }

    /// <summary>
    /// One call through the gateway's pipeline (resilience as configured for DingTalk, then the uncertain-attempt mark)
    /// to a wire whose first attempt fails as <paramref name="firstAttempt"/> says and whose next ones succeed.
    /// </summary>
    private static async Task<(int Attempts, SendOnce? Once, HttpStatusCode? Status)> SendAsync(string firstAttempt, SendOnce? sendOnce)
    {
        var wire = new Wire(firstAttempt);
        var services = new ServiceCollection();
        services.AddTransient<UncertainAttemptHandler>();
        var outbound = new OutboundOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(1), ThrottleDelay = TimeSpan.Zero, AttemptTimeout = TimeSpan.FromMilliseconds(200) };
        var client = services.AddHttpClient("dingtalk").ConfigurePrimaryHttpMessageHandler(() => wire);
        client.AddStandardResilienceHandler().Configure(options => DingTalkResilience.Configure(options, outbound));
        client.AddHttpMessageHandler<UncertainAttemptHandler>();
        await using var provider = services.BuildServiceProvider();
        using var http = provider.GetRequiredService<IHttpClientFactory>().CreateClient("dingtalk");
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://dingtalk.test/v1.0/im/v1.0/robot/interactiveCards/send");
        if (sendOnce is not null)
        {
            request.Options.Set(new HttpRequestOptionsKey<SendOnce>(SendOnce.Key), sendOnce);
        }

        try
        {
            using var response = await http.SendAsync(request);
            return (wire.Attempts, sendOnce, response.StatusCode);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or Polly.Timeout.TimeoutRejectedException)
        {
            return (wire.Attempts, sendOnce, null);
        }
    }

    /// <summary>DingTalk's side: the first attempt fails one way, the later ones are answered 200.</summary>
    private sealed class Wire(string firstAttempt) : HttpMessageHandler
    {
        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _attempts) > 1)
            {
                return Answer(HttpStatusCode.OK, """{"processQueryKey":"pqk-1"}""");
            }

            switch (firstAttempt)
            {
                case "504":
                    return Answer(HttpStatusCode.GatewayTimeout, """{"code":"GatewayTimeout","message":"lost"}""");
                case "connection broken after sending":
                    throw new HttpRequestException(HttpRequestError.ResponseEnded, "the server closed the connection");
                case "attempt timed out":
                    await Task.Delay(Timeout.Infinite, cancellationToken); // until the attempt timeout gives up on it
                    throw new System.Diagnostics.UnreachableException();
                case "connection refused":
                    throw new HttpRequestException(HttpRequestError.ConnectionError, "connection refused");
                case "429":
                    return Answer(HttpStatusCode.TooManyRequests, """{"code":"system.busy","message":"busy"}""");
                case "403 QpsLimit":
                    return Answer(HttpStatusCode.Forbidden, """{"code":"Forbidden.AccessDenied.QpsLimitForAppkeyAndApi","message":"throttled"}""");
                default:
                    throw new InvalidOperationException($"No such first attempt: {firstAttempt}");
            }
        }

        private static HttpResponseMessage Answer(HttpStatusCode status, string json) =>
            new(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
    }
}
