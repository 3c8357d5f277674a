using System.Net;
using System.Net.Http.Headers;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Hosting;

namespace DingTalk.CardGateway.Tests.Cards;

/// <summary>How long the outbound pipeline waits before a retry (<see cref="DingTalkResilience.DelayFor"/>).</summary>
public sealed class RetryDelayTests
{
    private static readonly OutboundOptions Outbound = new() { ThrottleDelay = TimeSpan.FromSeconds(1) };

    [Theory]
    [InlineData(null)]
    [InlineData(0)]
    [InlineData(1)]
    public void After_a_throttling_403_the_wait_is_at_least_ThrottleDelay_whatever_Retry_After_asks(int? retryAfterSeconds)
    {
        var delay = DingTalkResilience.DelayFor(Response(HttpStatusCode.Forbidden, retryAfterSeconds), Outbound);

        Assert.InRange(delay!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1.25)); // ThrottleDelay and a jitter under 250 ms
    }

    [Fact]
    public void A_throttling_403_that_asks_for_longer_than_ThrottleDelay_gets_it()
    {
        Assert.Equal(TimeSpan.FromSeconds(5), DingTalkResilience.DelayFor(Response(HttpStatusCode.Forbidden, 5), Outbound));
    }

    [Theory]
    [InlineData(HttpStatusCode.ServiceUnavailable, 2, 2.0)]
    [InlineData(HttpStatusCode.TooManyRequests, 0, 0.0)]
    [InlineData(HttpStatusCode.TooManyRequests, 3600, 60.0)] // at most a minute
    public void Other_answers_wait_what_their_Retry_After_asks(HttpStatusCode status, int retryAfterSeconds, double expectedSeconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), DingTalkResilience.DelayFor(Response(status, retryAfterSeconds), Outbound));
    }

    [Fact]
    public void Other_answers_without_Retry_After_leave_the_wait_to_the_exponential_backoff()
    {
        Assert.Null(DingTalkResilience.DelayFor(Response(HttpStatusCode.BadGateway, null), Outbound));
        Assert.Null(DingTalkResilience.DelayFor(null, Outbound)); // no answer at all: a timeout, a refused connection
    }

    private static HttpResponseMessage Response(HttpStatusCode status, int? retryAfterSeconds)
    {
        var response = new HttpResponseMessage(status);
        if (retryAfterSeconds is { } seconds)
        {
            response.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(seconds));
        }

        return response;
    }
}
