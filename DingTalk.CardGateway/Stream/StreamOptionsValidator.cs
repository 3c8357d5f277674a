using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Stream;

/// <summary>What the ranges on <see cref="StreamOptions"/> cannot say on their own; failures name the key.</summary>
public sealed class StreamOptionsValidator : IValidateOptions<DingTalkOptions>
{
    public ValidateOptionsResult Validate(string? name, DingTalkOptions options)
    {
        var stream = options.Stream;
        return stream.BackoffMin > stream.BackoffMax
            ? ValidateOptionsResult.Fail(
                $"DingTalk:Stream:BackoffMin (DingTalk__Stream__BackoffMin), {stream.BackoffMin}, must not be above DingTalk:Stream:BackoffMax (DingTalk__Stream__BackoffMax), {stream.BackoffMax}.")
            : ValidateOptionsResult.Success;
    }
}
