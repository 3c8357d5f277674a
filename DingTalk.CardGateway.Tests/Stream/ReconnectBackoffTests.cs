using DingTalk.CardGateway.Stream;

namespace DingTalk.CardGateway.Tests.Stream;

public sealed class ReconnectBackoffTests
{
    private static readonly TimeSpan Min = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(60);

    [Fact]
    public void The_first_retry_waits_at_most_the_minimum_so_a_drop_is_repaired_within_seconds()
    {
        var longest = new ReconnectBackoff(Min, Max, () => 1.0).Next();
        var shortest = new ReconnectBackoff(Min, Max, () => 0.0).Next();

        Assert.Equal(Min, longest);
        Assert.Equal(Min / 2, shortest);
    }

    [Fact]
    public void Delays_double_with_each_failure_up_to_the_cap()
    {
        var backoff = new ReconnectBackoff(Min, Max, () => 1.0);

        var delays = Enumerable.Range(0, 10).Select(_ => backoff.Next().TotalSeconds).ToArray();

        Assert.Equal([1, 2, 4, 8, 16, 32, 60, 60, 60, 60], delays);
        Assert.Equal(10, backoff.Failures);
    }

    [Fact]
    public void Jitter_keeps_every_delay_between_half_and_all_of_its_ceiling()
    {
        var backoff = new ReconnectBackoff(Min, Max);

        for (var failure = 1; failure <= 40; failure++)
        {
            var ceiling = Math.Min(Max.TotalSeconds, Min.TotalSeconds * Math.Pow(2, Math.Min(failure - 1, 30)));
            var delay = backoff.Next().TotalSeconds;
            Assert.InRange(delay, ceiling / 2, ceiling);
        }
    }

    [Fact]
    public void A_reset_after_a_working_connection_starts_again_from_the_minimum()
    {
        var backoff = new ReconnectBackoff(Min, Max, () => 1.0);
        for (var i = 0; i < 8; i++)
        {
            backoff.Next();
        }

        backoff.Reset();

        Assert.Equal(Min, backoff.Next());
    }
}
