using System.Buffers.Text;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Events;

namespace DingTalk.CardGateway.Tests.Admin;

/// <summary>
/// "Which handler is missing?" across the whole gateway: every card's callbacks a page at a time, one outcome's when
/// asked (<c>GET /api/callbacks</c>), and what the gateway routes beside what it was sent and routed nowhere, grouped,
/// with the registration line warning 3101 gives (<c>GET /api/handlers</c>) — on both providers.
/// </summary>
public class UnclaimedActionsTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>
{
    [Fact]
    public Task Unclaimed_clicks_of_every_card_are_listed_and_grouped_with_the_line_to_register_on_SQLite() =>
        OnGatewayAsync([], "sqlite");

    [SkippableFact]
    public Task Unclaimed_clicks_of_every_card_are_listed_and_grouped_with_the_line_to_register_on_PostgreSQL() =>
        PostgresServer.WithDatabaseAsync(connectionString => OnGatewayAsync(GatewayFactory.PostgresSettings(connectionString), "postgres"));

    [Fact]
    public async Task Hostile_parameters_are_a_400_naming_what_is_wrong_never_a_500()
    {
        using var api = fixture.Gateway.CreateAdminClient();

        foreach (var (path, query, parameter) in new[]
        {
            ("/api/callbacks", "limit=501", "limit"), ("/api/callbacks", "limit=0", "limit"), ("/api/callbacks", "limit=lots", "limit"),
            ("/api/callbacks", "before=garbage!", "before"), ("/api/callbacks", "before=", "before"), ("/api/callbacks", $"before={new string('A', 10_000)}", "before"),
            ("/api/callbacks", "outcome=1", "outcome"), ("/api/callbacks", "outcome=Handled,Unhandled", "outcome"), ("/api/callbacks", "outcome=", "outcome"),
            ("/api/callbacks", "since=yesterday", "since"), ("/api/callbacks", "since=", "since"), ("/api/callbacks", "since=99999-01-01", "since"),
            ("/api/callbacks", $"since={new string('9', 10_000)}", "since"), ("/api/callbacks", "since=2026-11-28T10:00:00%2B99:00", "since"),
            ("/api/handlers", "since=last-week", "since"), ("/api/handlers", "since=", "since"), ("/api/handlers", "limit=0", "limit"),
            ("/api/handlers", "limit=501", "limit"), ("/api/handlers", "limit=-1", "limit"),
        })
        {
            var problem = await HttpAssert.ProblemAsync(await api.GetAsync($"{path}?{query}"), HttpStatusCode.BadRequest);
            Assert.Contains(parameter, problem.GetRawText(), StringComparison.Ordinal);
        }

        using var anonymous = fixture.Gateway.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/callbacks")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/handlers")).StatusCode);
    }

    private async Task OnGatewayAsync(Dictionary<string, string?> settings, string prefix)
    {
        await using var gateway = new GatewayFactory(fixture.DingTalk, settings);
        using var api = gateway.CreateAdminClient();
        using var client = gateway.CreateClient();
        var started = DateTimeOffset.UtcNow.AddSeconds(-1);

        // Two incident cards whose new "escalate" button no handler claims, a card sent no handler for, one vote handled.
        var first = await SendAsync(api, "tpl.incident", $"{prefix}-incident-1");
        var second = await SendAsync(api, "tpl.incident", $"{prefix}-incident-2");
        var other = await SendAsync(api, "tpl.other", $"{prefix}-other");
        await ClickAsync(client, first, "u1", new { action = "escalate" });
        await ClickAsync(client, other, "u3", new { action = "archive" });
        await ClickAsync(client, second, "u2", new { action = "escalate" });
        await ClickAsync(client, second, "u4", new { action = "vote", option = "A" });
        var lines = gateway.LogEvents.Where(e => CardCallbackEndpointTests.EventId(e) == 3101).ToList();

        // Every card's callbacks, newest first; one outcome's; a page at a time.
        var all = await HttpAssert.JsonAsync(await api.GetAsync("/api/callbacks"), HttpStatusCode.OK);
        var unhandled = await PageThroughAsync(api, "/api/callbacks?outcome=unhandled&limit=2");
        var handled = await HttpAssert.JsonAsync(await api.GetAsync("/api/callbacks?outcome=Handled"), HttpStatusCode.OK);
        var future = await HttpAssert.JsonAsync(await api.GetAsync($"/api/callbacks?since={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(1).ToString("O"))}"), HttpStatusCode.OK);

        Assert.Equal(3, lines.Count);
        var everyCard = all.GetProperty("callbacks").EnumerateArray().ToList();
        Assert.Equal(new[] { first, other, second, second }.Order(StringComparer.Ordinal), everyCard.Select(c => c.GetProperty("cardId").GetString()).Order(StringComparer.Ordinal));
        Assert.Equal(everyCard.Select(ReceivedAt).OrderDescending(), everyCard.Select(ReceivedAt)); // newest first
        Assert.Equal(lines.Select(Property("CallbackId")).Order(StringComparer.Ordinal), unhandled.Select(c => c.GetProperty("callbackId").GetString()).Order(StringComparer.Ordinal));
        Assert.Equal(unhandled.Select(ReceivedAt).OrderDescending(), unhandled.Select(ReceivedAt));
        Assert.All(unhandled, c => Assert.Equal("Unhandled", c.GetProperty("outcome").GetString()));
        Assert.Equal("PollHandler", Assert.Single(handled.GetProperty("callbacks").EnumerateArray()).GetProperty("handler").GetString());
        Assert.Equal(0, future.GetProperty("callbacks").GetArrayLength());

        // What the gateway routes, and what it was sent and routed nowhere: grouped by template and action.
        var handlers = await HttpAssert.JsonAsync(await api.GetAsync("/api/handlers"), HttpStatusCode.OK);

        var registered = handlers.GetProperty("handlers").EnumerateArray().ToList();
        var poll = Assert.Single(registered, h => h.GetProperty("handler").GetString() == "PollHandler");
        Assert.Equal("on.Action(\"vote\")", poll.GetProperty("match").GetString());
        Assert.Equal(["vote"], poll.GetProperty("actions").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(2, registered.Count(h => h.GetProperty("handler").GetString() == "ApprovalHandler"));
        Assert.True(handlers.GetProperty("since").GetDateTimeOffset() <= started.AddDays(-6)); // the last 7 days by default
        var unclaimed = handlers.GetProperty("unclaimed").EnumerateArray().ToList();
        Assert.Equal(2, unclaimed.Count);
        var escalate = unclaimed[0]; // the most clicked first
        Assert.Equal(("tpl.incident", "ActionCallback", "escalate", 2), (
            escalate.GetProperty("templateId").GetString(), escalate.GetProperty("type").GetString(),
            escalate.GetProperty("action").GetString(), escalate.GetProperty("count").GetInt32()));
        Assert.True(escalate.GetProperty("firstSeen").GetDateTimeOffset() <= escalate.GetProperty("lastSeen").GetDateTimeOffset());
        Assert.True(escalate.GetProperty("firstSeen").GetDateTimeOffset() >= started);
        var example = escalate.GetProperty("exampleCallbackId").GetString();
        var exampleLine = Assert.Single(lines, l => Property("CallbackId")(l) == example);
        Assert.Equal(Property("Registration")(exampleLine), escalate.GetProperty("registration").GetString()); // as 3101 printed it
        Assert.Contains("on.Template(\"tpl.incident\").Action(\"escalate\")", escalate.GetProperty("registration").GetString(), StringComparison.Ordinal);
        Assert.Equal(("tpl.other", "archive", 1), (
            unclaimed[1].GetProperty("templateId").GetString(), unclaimed[1].GetProperty("action").GetString(), unclaimed[1].GetProperty("count").GetInt32()));
        Assert.Equal(Property("Registration")(lines[1]), unclaimed[1].GetProperty("registration").GetString());
        var later = await HttpAssert.JsonAsync(await api.GetAsync($"/api/handlers?since={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(1).ToString("O"))}"), HttpStatusCode.OK);
        Assert.Equal(0, later.GetProperty("unclaimed").GetArrayLength());
        var top = await HttpAssert.JsonAsync(await api.GetAsync("/api/handlers?limit=1"), HttpStatusCode.OK);
        Assert.Equal("escalate", Assert.Single(top.GetProperty("unclaimed").EnumerateArray()).GetProperty("action").GetString());
        Assert.True(top.GetProperty("more").GetBoolean());

        // A busy gateway: 300 clicks on three cards, up to six a millisecond, page across cards with neither a gap nor a repeat.
        var busyFrom = DateTimeOffset.UtcNow.AddMinutes(1);
        var added = await RecordAsync(gateway, prefix, busyFrom, 300);
        var everything = await PageThroughAsync(api, $"/api/callbacks?limit=37&since={Uri.EscapeDataString(busyFrom.ToString("O"))}");

        Assert.Equal(300, everything.Count);
        Assert.Equal(added.Select(c => c.CallbackId).Reverse(), everything.Select(c => c.GetProperty("callbackId").GetString()));
    }

    private static async Task<string> SendAsync(HttpClient api, string template, string outTrackId)
    {
        var id = $"{outTrackId}-{Guid.NewGuid():N}";
        (await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = template, outTrackId = id, openConversationId = "cidUnclaimed==" })).EnsureSuccessStatusCode();
        return id;
    }

    private static async Task ClickAsync(HttpClient client, string card, string user, object parameters) =>
        await HttpAssert.JsonAsync(await client.SendAsync(CardClick.Create(card, user, parameters, GatewayFactory.ApiSecret)), HttpStatusCode.OK);

    private static DateTimeOffset ReceivedAt(JsonElement callback) => callback.GetProperty("receivedAt").GetDateTimeOffset();

    private static Func<LogEvent, string?> Property(string name) =>
        e => e.Properties.TryGetValue(name, out var value) && value is ScalarValue { Value: string text } ? text : null;

    /// <summary>Records clicks on three cards as the pipeline does, up to six a millisecond from <paramref name="from"/>, oldest first.</summary>
    private static async Task<List<CallbackRecord>> RecordAsync(GatewayFactory gateway, string prefix, DateTimeOffset from, int count)
    {
        var added = Enumerable.Range(0, count).Select(i => new CallbackRecord
        {
            CallbackId = $"{from.AddMilliseconds(i / 6).ToUnixTimeMilliseconds()}.{Base64Url.EncodeToString(Guid.NewGuid().ToByteArray())}",
            CardId = $"{prefix}-busy-{i % 3}",
            Transport = nameof(CallbackTransport.Http),
            Type = "ActionCallback",
            UserId = $"voter{i % 5}",
            Action = "vote",
            ActionIds = ["btn"],
            Params = JsonSerializer.SerializeToElement(new { action = "vote", option = "A" }),
            ReceivedAt = from.AddMilliseconds(i / 6),
        }).ToList();
        await using var scope = gateway.Services.CreateAsyncScope();
        var store = scope.ServiceProvider.GetRequiredService<ICallbackStore>();
        foreach (var callback in added)
        {
            Assert.True(await store.TryAddAsync(callback, default));
        }

        return [.. added.OrderBy(c => c.ReceivedAt).ThenBy(c => c.CallbackId, StringComparer.Ordinal)];
    }

    /// <summary>Every callback of every page of <paramref name="path"/>, following each page's <c>next</c>.</summary>
    private static async Task<List<JsonElement>> PageThroughAsync(HttpClient api, string path)
    {
        var callbacks = new List<JsonElement>();
        string? before = null;
        while (true)
        {
            var page = await HttpAssert.JsonAsync(await api.GetAsync(before is null ? path : $"{path}&before={Uri.EscapeDataString(before)}"), HttpStatusCode.OK);
            callbacks.AddRange(page.GetProperty("callbacks").EnumerateArray());
            if (!page.TryGetProperty("next", out var next))
            {
                return callbacks;
            }

            before = next.GetString();
        }
    }
}
