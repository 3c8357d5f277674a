using DingTalk.CardGateway.Tests.Callbacks;

namespace DingTalk.CardGateway.Tests.Handlers;

/// <summary>A gateway stopping while a card is being typed into does not leave the card "typing" for ever.</summary>
public sealed class TypewriterStopTests
{
    [Fact]
    public async Task Stopping_the_gateway_mid_text_sends_the_text_so_far_as_the_last_frame_marked_as_an_error()
    {
        var gateway = CallbackGateway.With(new Dictionary<string, string?>());
        await gateway.InitializeAsync();
        try
        {
            var card = await gateway.SendCardAsync("tpl.ask");
            await gateway.ClickAsync(card, "u1", new { action = "type" });
            gateway.TypedText.For(card).Writer.TryWrite("Half a reply");
            await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(card)?.StreamingFrames.Count >= 1, "the first frame");

            await gateway.App.DisposeAsync(); // stops the host: ApplicationStopping, then the hosted services

            var frames = gateway.DingTalk.State.FindCard(card)!.StreamingFrames;
            var last = frames[^1];
            Assert.True(last.IsFinalize && last.IsError, "the last frame ends the text, as an error");
            Assert.Equal("Half a reply", last.Content);
            Assert.Contains(gateway.Logs.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 6104 && e.RenderMessage().Contains(card, StringComparison.Ordinal));
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }
}
