using DingTalk.CardGateway.Callbacks;
using Microsoft.Extensions.Time.Testing;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>A click verified under a previous secret is said at most once an hour per secret and kind, with how many since.</summary>
public class PreviousSecretUseTests
{
    [Fact]
    public void The_first_click_is_said_then_the_next_an_hour_later_with_the_clicks_in_between()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 28, 0, 0, 0, TimeSpan.Zero));
        var use = new PreviousSecretUse(clock);

        Assert.Equal(1, use.Count("card", 0));
        Assert.Null(use.Count("card", 0));
        Assert.Equal(1, use.Count("card", 1)); // another secret
        Assert.Equal(1, use.Count("robot_card", 0)); // another kind
        clock.Advance(PreviousSecretUse.Interval - TimeSpan.FromSeconds(1));
        Assert.Null(use.Count("card", 0));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(3, use.Count("card", 0));
        Assert.Null(use.Count("card", 0));
    }
}
