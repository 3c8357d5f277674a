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
        b.ConfigureServices(s => s
            .AddCardActionHandler<RefundHandler>(on => on.Template("tpl.refund").Action("refund"))
            .AddCardActionHandler<LeaveHandler>(on => on.Template("tpl.leave").Action("request")));
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

    [Fact]
    public async Task A_form_posted_as_the_record_its_handler_binds_answers_the_clicker()
    {
        using var client = await LeaveCardAsync("leave-1");

        var answer = await client.SendAsync(CardClick.Submit("leave-1", "u1", "request", new LeaveRequest(LeaveKind.Sick, new DateOnly(2026, 12, 1), 3, ["u9"])));

        Assert.Equal("3 days of Sick leave from 2026-12-01", await MyRequestAsync(answer));
    }

    [Fact]
    public async Task A_form_sending_its_values_as_text_binds_the_same()
    {
        using var client = await LeaveCardAsync("leave-2");

        var answer = await client.SendAsync(CardClick.Create(
            "leave-2", "u1", new { action = "request", kind = "sick", from = "2026-12-01", days = "3", approvers = "u9", note = "" }));

        Assert.Equal("3 days of Sick leave from 2026-12-01", await MyRequestAsync(answer));
    }

    [Fact]
    public async Task A_form_without_an_approver_is_told_so_by_the_handler_that_caught_it()
    {
        using var client = await LeaveCardAsync("leave-3");

        var answer = await client.SendAsync(CardClick.Create("leave-3", "u1", new { action = "request", kind = "annual", from = "2026-12-01", days = 1 }));

        var clicker = await answer.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Pick an approver.", clicker.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("error").GetString());
    }

    private async Task<HttpClient> LeaveCardAsync(string outTrackId)
    {
        var client = _gateway.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", "sandbox");
        (await client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.leave", outTrackId, openConversationId = "cidTest==" })).EnsureSuccessStatusCode();
        return client;
    }

    private static async Task<string?> MyRequestAsync(HttpResponseMessage answer) =>
        (await answer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myRequest").GetString();

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

    /// <summary>The README's form handler ("A form, bound to a record"), word for word.</summary>
    public sealed class LeaveHandler : ICardActionHandler
    {
        public Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
        {
            LeaveRequest leave;
            try
            {
                leave = context.ParamsAs<LeaveRequest>();
            }
            catch (CardParamsException problem) when (problem.Path == "$.approvers")
            {
                return Task.FromResult(CardActionResult.ForClicker(ClickerUpdate.Private(CardValues.Of("error", "Pick an approver."))));
            }

            return Task.FromResult(CardActionResult.ForClicker(ClickerUpdate.Private(
                CardValues.Of("myRequest", $"{leave.Days} days of {leave.Kind} leave from {leave.From:yyyy-MM-dd}"))));
        }
    }

    public enum LeaveKind
    {
        Annual,
        Sick,
    }

    public sealed record LeaveRequest(
        LeaveKind Kind,                      // a select: "annual" or "Sick", in any case
        DateOnly From,                       // a date picker: "2026-12-01"
        int Days,                            // a number input: 3 or "3"
        IReadOnlyList<string> Approvers,     // a user picker: one id or a list of them
        bool HalfDay = false,                // a checkbox: true, "true", or left out
        string? Note = null);                // a text input: "" reads as null
}
