using DingTalk.CardGateway.Callbacks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary><see cref="HandlerDrain"/> on its own: what a callback gets from it at the edges of a stop.</summary>
public sealed class HandlerDrainTests
{
    [Fact]
    public void A_callback_arriving_after_the_gateway_was_disposed_gets_a_cancelled_token_not_an_exception()
    {
        var drain = new HandlerDrain(new StaticMonitor(new CallbackHandlingOptions()), TimeProvider.System, NullLogger<HandlerDrain>.Instance);
        drain.Dispose();

        Assert.True(drain.HandlersStopping.IsCancellationRequested);
    }

    private sealed class StaticMonitor(CallbackHandlingOptions value) : IOptionsMonitor<CallbackHandlingOptions>
    {
        public CallbackHandlingOptions CurrentValue => value;

        public CallbackHandlingOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<CallbackHandlingOptions, string?> listener) => null;
    }
}
