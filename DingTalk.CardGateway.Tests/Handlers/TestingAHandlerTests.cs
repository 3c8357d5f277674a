using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Storage;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace DingTalk.CardGateway.Tests.Handlers;

/// <summary>
/// The README's "Testing a handler", as written there: its RefundHandler, registered in a WebApplicationFactory, sent a
/// card and a signed click (<see cref="CardClick"/>), with the answer and the sandbox's copy of the card checked. If
/// this fails, the README's recipe does not work.
/// </summary>
public sealed class TestingAHandlerTests : IAsyncLifetime
{
    private readonly WebApplicationFactory<Program> _gateway = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
    {
        b.UseSetting("Gateway:Storage:ConnectionString", "Data Source=:memory:"); // nothing left on disk
        b.ConfigureServices(s => s.AddCardActionHandler<RefundHandler>(on => on.Template("tpl.refund").Action("refund")));
    });

    public Task InitializeAsync()
    {
        // Sandbox mode calls its emulated DingTalk over a real socket: a free port on 127.0.0.1 (UseKestrel(0)
        // would be overridden by the default http://localhost:5000 and collide with anything else on it).
        _gateway.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        _gateway.StartServer();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task A_refund_click_answers_the_clicker_and_updates_everyones_card()
    {
        using var client = _gateway.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", "sandbox");
        var sent = await client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.refund", outTrackId = "order-1", openConversationId = "cidTest==" });
        sent.EnsureSuccessStatusCode();

        var answer = await client.SendAsync(CardClick.Create("order-1", "u1", new { action = "refund", amount = 42 }));

        var clicker = await answer.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("42", clicker.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myRefund").GetString());
        await SandboxCards.WaitForAsync(client, "order-1", card => card.GetValueOrDefault("refunds") == "1"); // everyone's update leaves after the answer
    }

    [Fact]
    public async Task Waiting_for_a_card_that_never_shows_it_says_what_the_card_shows()
    {
        using var client = _gateway.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", "sandbox");
        (await client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.refund", outTrackId = "order-2", openConversationId = "cidTest==", cardData = new { refunds = "0" } }))
            .EnsureSuccessStatusCode();

        var never = await Assert.ThrowsAsync<TimeoutException>(
            () => SandboxCards.WaitForAsync(client, "order-2", card => card.GetValueOrDefault("refunds") == "1", TimeSpan.FromMilliseconds(200)));
        var missing = await Assert.ThrowsAsync<TimeoutException>(
            () => SandboxCards.WaitForAsync(client, "order-3", _ => true, TimeSpan.FromMilliseconds(200)));

        Assert.Contains("""{"refunds":"0"}""", never.Message, StringComparison.Ordinal);
        Assert.Contains("has no card order-3", missing.Message, StringComparison.Ordinal);
        Assert.Equal("0", (await SandboxCards.CardDataAsync(client, "order-2"))!["refunds"]);
    }

    /// <summary>The README's handler, word for word.</summary>
    public sealed class RefundHandler(IHandlerStateStore state) : ICardActionHandler
    {
        public async Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
        {
            var amount = context.Param("amount");                                   // params.amount
            var refunds = await state.UpdateAsync<Refunds>(nameof(RefundHandler), context.CardId,
                r => new Refunds((r?.Count ?? 0) + 1), cancellationToken);      // atomic, in the callback's transaction
            return CardActionResult
                .ForClicker(ClickerUpdate.Private(CardValues.Of("myRefund", amount)))      // in the answer, for the clicker
                .AndForEveryone(EveryoneUpdate.Public(CardValues.Of("refunds", refunds.Count))); // through the outbox, for everyone
        }
    }

    public sealed record Refunds(int Count);
}
