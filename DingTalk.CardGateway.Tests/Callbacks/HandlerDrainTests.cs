using DingTalk.CardGateway.Callbacks;
using Microsoft.Extensions.Logging.Abstractions;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary><see cref="HandlerDrain"/> on its own: what a callback gets from it at the edges of a stop.</summary>
public sealed class HandlerDrainTests
{
    [Fact]
    public void A_callback_arriving_after_the_gateway_was_disposed_gets_a_cancelled_token_not_an_exception()
    {
        var drain = new HandlerDrain(new StaticOptionsMonitor<CallbackHandlingOptions>(new CallbackHandlingOptions()), TimeProvider.System, NullLogger<HandlerDrain>.Instance);
        drain.Dispose();

        Assert.True(drain.HandlersStopping.IsCancellationRequested);
    }
}
