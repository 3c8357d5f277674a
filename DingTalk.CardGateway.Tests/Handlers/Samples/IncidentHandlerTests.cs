using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Handlers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;
using Serilog.Events;

namespace DingTalk.CardGateway.Tests.Handlers.Samples;

/// <summary>
/// The README's "Testing a handler", followed for a card of one's own: <see cref="IncidentHandler"/> in the real
/// pipeline, Sandbox mode, clicks signed as DingTalk signs them, the card everyone sees read from the emulator.
/// </summary>
public sealed class IncidentHandlerTests : IAsyncLifetime
{
    private readonly RecordingPager _pager = new();
    private readonly CapturedLog _log = new();
    private readonly WebApplicationFactory<Program> _gateway;
    private HttpClient _client = null!;

    public IncidentHandlerTests()
    {
        _gateway = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseSetting("Gateway:Storage:ConnectionString", "Data Source=:memory:");
            b.ConfigureServices(s => s
                .AddSingleton<IIncidentPager>(_pager)
                .AddSingleton<ILogEventSink>(_log) // the gateway's log lines, for the test to read
                .AddCardActionHandler<IncidentHandler>(on => on.Template(IncidentHandler.Template).Action("ack", "resolve", "assign")));
        });
    }

    public async Task InitializeAsync()
    {
        _gateway.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        _gateway.StartServer();
        _client = _gateway.CreateClient();
        _client.DefaultRequestHeaders.Add("X-Api-Key", "sandbox");
        (await _client.PostAsJsonAsync("/api/cards", new { cardTemplateId = IncidentHandler.Template, outTrackId = "inc-1", openConversationId = "cidTest==" }))
            .EnsureSuccessStatusCode();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task Two_users_racing_to_acknowledge_leave_one_owner_and_tell_the_other_who()
    {
        var answers = await Task.WhenAll(
            ClickAsync("u1", new { action = "ack" }),
            ClickAsync("u2", new { action = "ack" }));

        var card = await SandboxCards.WaitForAsync(_client, "inc-1", c => c.GetValueOrDefault("status") == "acknowledged");
        var owner = card["owner"];
        var loser = owner == "u1" ? answers[1] : answers[0];
        Assert.Contains(owner, new[] { "u1", "u2" });
        Assert.Equal($"{owner} already owns this incident.", Private(loser, "error"));
        Assert.Equal(owner, Public(owner == "u1" ? answers[0] : answers[1], "owner"));
    }

    [Fact]
    public async Task Resolve_by_someone_other_than_the_owner_is_refused_to_them_alone()
    {
        await ClickAsync("u1", new { action = "ack" });

        var refused = await ClickAsync("u2", new { action = "resolve" });
        var resolved = await ClickAsync("u1", new { action = "resolve" });

        Assert.Equal("Only u1 can resolve this incident.", Private(refused, "error"));
        Assert.False(refused.TryGetProperty("cardData", out _));
        Assert.Equal("resolved", Public(resolved, "status"));
        await SandboxCards.WaitForAsync(_client, "inc-1", c => c.GetValueOrDefault("status") == "resolved");
    }

    [Theory]
    [InlineData("""{"action":"assign","assignee":["u3","u4"]}""")]
    [InlineData("""{"action":"assign","assignee":"u3"}""")]
    public async Task Assign_from_a_form_reassigns_and_tells_the_new_owner_privately(string parameters)
    {
        await ClickAsync("u1", new { action = "ack" });

        var answer = await ClickAsync("u1", JsonDocument.Parse(parameters).RootElement);

        Assert.Equal("u3", Public(answer, "owner"));
        await SandboxCards.WaitForAsync(_client, "inc-1", c => c.GetValueOrDefault("owner") == "u3");
        Assert.Equal("u1 assigned this incident to you.", (await SandboxCards.PrivateDataAsync(_client, "inc-1", "u3"))?.GetValueOrDefault("notice"));
        Assert.Equal([("u3", "inc-1")], _pager.Pages);
    }

    [Fact]
    public async Task Assign_from_a_typed_form_binds_its_fields_and_honours_an_unticked_page_box()
    {
        await ClickAsync("u1", new { action = "ack" });

        var answer = await _client.SendAsync(CardClick.Submit("inc-1", "u1", "assign", new IncidentAssignment(["u3"], Page: false, Note: "Disk full on db-2.")));

        Assert.Equal("u3", Public(await answer.Content.ReadFromJsonAsync<JsonElement>(), "owner"));
        await SandboxCards.WaitForAsync(_client, "inc-1", c => c.GetValueOrDefault("owner") == "u3");
        Assert.Equal("u1 assigned this incident to you. Disk full on db-2.", (await SandboxCards.PrivateDataAsync(_client, "inc-1", "u3"))?.GetValueOrDefault("notice"));
        Assert.Empty(_pager.Pages);
    }

    [Fact]
    public async Task Assign_from_a_form_sending_its_checkbox_as_text_and_an_empty_note_binds()
    {
        await ClickAsync("u1", new { action = "ack" });

        var answer = await ClickAsync("u1", new { action = "assign", assignee = "u3", page = "true", note = "" });

        Assert.Equal("u3", Public(answer, "owner"));
        await SandboxCards.WaitForAsync(_client, "inc-1", c => c.GetValueOrDefault("owner") == "u3");
        Assert.Equal("u1 assigned this incident to you.", (await SandboxCards.PrivateDataAsync(_client, "inc-1", "u3"))?.GetValueOrDefault("notice"));
        Assert.Equal([("u3", "inc-1")], _pager.Pages);
    }

    [Theory]
    [InlineData("""{"action":"assign"}""")]
    [InlineData("""{"action":"assign","assignee":{"userId":"u3"}}""")]
    public async Task Assign_without_anyone_the_handler_can_read_tells_the_clicker_to_pick_someone(string parameters)
    {
        await ClickAsync("u1", new { action = "ack" });

        var answer = await ClickAsync("u1", JsonDocument.Parse(parameters).RootElement);

        Assert.Equal("Pick someone to assign the incident to.", Private(answer, "error"));
        Assert.DoesNotContain(_log.Events, e => e.EventId is 3123 or 3102);
    }

    [Fact]
    public async Task A_form_value_the_handler_cannot_bind_is_answered_with_nothing_and_logged_once_with_its_path_not_its_value()
    {
        await ClickAsync("u1", new { action = "ack" });
        var signedAt = DateTimeOffset.UtcNow;
        const string Personal = "13800138000"; // a phone number typed where the form wanted a tick

        var first = await _client.SendAsync(CardClick.Create("inc-1", "u1", new { action = "assign", assignee = "u3", page = Personal }, signedAt: signedAt));
        var again = await _client.SendAsync(CardClick.Create("inc-1", "u1", new { action = "assign", assignee = "u3", page = Personal }, signedAt: signedAt));

        Assert.Equal("{}", await first.Content.ReadAsStringAsync());
        Assert.Equal("{}", await again.Content.ReadAsStringAsync()); // the redelivery: answered from the record, not bound again
        var state = await _client.GetFromJsonAsync<JsonElement>("/api/cards/inc-1");
        var callbacks = state.GetProperty("callbacks").EnumerateArray().ToList();
        Assert.Equal(2, callbacks.Count); // the ack, and the assign once
        Assert.Equal("HandlerFailed", callbacks[1].GetProperty("outcome").GetString());
        var warning = Assert.Single(_log.Events, e => e.EventId == 3123);
        Assert.Equal(LogEventLevel.Warning, warning.Level);
        Assert.False(warning.HasException); // the click's params, not a bug: no stack trace
        Assert.StartsWith("IncidentHandler could not bind params for callback ", warning.Message, StringComparison.Ordinal);
        Assert.Contains("to IncidentAssignment: $.page must be true or false, not a string that does not read as one.", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_log.Events, e => e.EventId == 3102);
        Assert.Single(_log.Events, e => e.EventId == 3104);
        Assert.DoesNotContain(_log.Events, e => e.Message.Contains(Personal, StringComparison.Ordinal));
        Assert.Empty(_pager.Pages);
        Assert.Equal("u1", (await SandboxCards.CardDataAsync(_client, "inc-1"))!["owner"]);
    }

    [Fact]
    public async Task A_redelivered_click_is_handled_once()
    {
        await ClickAsync("u1", new { action = "ack" });
        var signedAt = DateTimeOffset.UtcNow;

        var first = await _client.SendAsync(CardClick.Create("inc-1", "u1", new { action = "assign", assignee = "u3" }, signedAt: signedAt));
        var again = await _client.SendAsync(CardClick.Create("inc-1", "u1", new { action = "assign", assignee = "u3" }, signedAt: signedAt));

        Assert.Equal(await first.Content.ReadAsStringAsync(), await again.Content.ReadAsStringAsync());
        Assert.Equal([("u3", "inc-1")], _pager.Pages);
    }

    [Fact]
    public async Task A_failing_pager_answers_the_clicker_with_nothing_and_keeps_no_change()
    {
        await ClickAsync("u1", new { action = "ack" });
        _pager.FailWith = new HttpRequestException("pager down");

        var answer = await ClickAsync("u1", new { action = "assign", assignee = "u3" });

        Assert.Equal("{}", answer.GetRawText());
        var state = await _client.GetFromJsonAsync<JsonElement>("/api/cards/inc-1");
        Assert.Equal("HandlerFailed", state.GetProperty("callbacks").EnumerateArray().Last().GetProperty("outcome").GetString());
        Assert.Equal("u1", (await SandboxCards.CardDataAsync(_client, "inc-1"))!["owner"]);
    }

    [Fact]
    public async Task A_new_button_missing_from_the_registration_is_acknowledged_and_the_log_names_the_registration_to_widen()
    {
        var answer = await ClickAsync("u1", new { action = "escalate" });

        Assert.Equal("{}", answer.GetRawText());
        var state = await _client.GetFromJsonAsync<JsonElement>("/api/cards/inc-1");
        Assert.Equal("Unhandled", state.GetProperty("callbacks").EnumerateArray().Last().GetProperty("outcome").GetString());
        var hint = Assert.Single(_log.Events, e => e.EventId == 3101).Message;
        Assert.Contains("""builder.Services.AddCardActionHandler<MyHandler>(on => on.Template("tpl.incident").Action("escalate"));""", hint, StringComparison.Ordinal);
        Assert.Contains("""IncidentHandler is registered for on.Template("tpl.incident").Action("ack", "resolve", "assign"), which this click misses only by its params.action "escalate""", hint, StringComparison.Ordinal);
    }

    private async Task<JsonElement> ClickAsync(string userId, object parameters)
    {
        var answer = await _client.SendAsync(CardClick.Create("inc-1", userId, parameters));
        answer.EnsureSuccessStatusCode();
        return await answer.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static string? Public(JsonElement answer, string key) => answer.GetProperty("cardData").GetProperty("cardParamMap").GetProperty(key).GetString();

    private static string? Private(JsonElement answer, string key) => answer.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty(key).GetString();

    private sealed class CapturedLog : ILogEventSink
    {
        private readonly ConcurrentQueue<(int EventId, string Message, LogEventLevel Level, bool HasException)> _events = new();

        public IReadOnlyList<(int EventId, string Message, LogEventLevel Level, bool HasException)> Events => [.. _events];

        public void Emit(LogEvent logEvent) => _events.Enqueue((
            logEvent.Properties.TryGetValue("EventId", out var id) && id is StructureValue s && s.Properties.FirstOrDefault(p => p.Name == "Id")?.Value is ScalarValue { Value: int value } ? value : 0,
            logEvent.RenderMessage(),
            logEvent.Level,
            logEvent.Exception is not null));
    }

    private sealed class RecordingPager : IIncidentPager
    {
        private readonly ConcurrentQueue<(string, string)> _pages = new();

        public Exception? FailWith { get; set; }

        public IReadOnlyList<(string UserId, string IncidentId)> Pages => [.. _pages];

        public Task PageAsync(string userId, string incidentId, CancellationToken cancellationToken)
        {
            if (FailWith is not null)
            {
                throw FailWith;
            }

            _pages.Enqueue((userId, incidentId));
            return Task.CompletedTask;
        }
    }
}
