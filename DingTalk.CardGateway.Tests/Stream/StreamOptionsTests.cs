using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Stream;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Tests.Stream;

public sealed class StreamOptionsTests
{
    [Theory]
    [InlineData("DingTalk:Stream:IdleTimeout", "00:00:00")]
    [InlineData("DingTalk:Stream:MaxFramesInFlight", "0")]
    [InlineData("DingTalk:Stream:BackoffMin", "00:02:00")]
    [InlineData("DingTalk:Stream:SendTimeout", "00:00:00")]
    [InlineData("DingTalk:Stream:SendTimeout", "00:01:01")]
    public void A_stream_setting_out_of_range_fails_validation_naming_it(string key, string value)
    {
        var options = Options(new() { [key] = value });

        var failure = Assert.Single(Assert.Throws<OptionsValidationException>(() => options.Value).Failures);

        Assert.Contains(key.Split(':')[^1], failure, StringComparison.Ordinal);
    }

    [Fact]
    public void A_backoff_minimum_above_the_maximum_is_named_as_an_operator_writes_it_in_either_place()
    {
        var options = Options(new() { ["DingTalk:Stream:BackoffMin"] = "00:00:30", ["DingTalk:Stream:BackoffMax"] = "00:00:10" });

        var failure = Assert.Single(Assert.Throws<OptionsValidationException>(() => options.Value).Failures);

        Assert.Contains("DingTalk:Stream:BackoffMin (DingTalk__Stream__BackoffMin)", failure, StringComparison.Ordinal);
        Assert.Contains("DingTalk:Stream:BackoffMax (DingTalk__Stream__BackoffMax)", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void The_defaults_are_valid_reconnect_between_one_second_and_one_minute_and_give_an_answer_ten_seconds_to_be_written()
    {
        var stream = Options([]).Value.Stream;

        Assert.False(stream.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(1), stream.BackoffMin);
        Assert.Equal(TimeSpan.FromSeconds(60), stream.BackoffMax);
        Assert.Equal(TimeSpan.FromSeconds(10), stream.SendTimeout);
    }

    private static IOptions<DingTalkOptions> Options(Dictionary<string, string?> settings)
    {
        settings["DingTalk:Mode"] = "Sandbox";
        return new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
            .AddGatewayOptions()
            .AddSingleton<IValidateOptions<DingTalkOptions>, StreamOptionsValidator>()
            .BuildServiceProvider()
            .GetRequiredService<IOptions<DingTalkOptions>>();
    }
}
