using System.Buffers.Text;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.CardGateway.Tests.Stream;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Events;

namespace DingTalk.CardGateway.Tests.Admin;

/// <summary>
/// From a log line's callback id to the click as recorded, and a busy card's whole history a page at a time — what an
/// operator needs when a user says "my vote did not count" — on both providers.
/// </summary>
public class CallbackHistoryTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public Task A_click_is_found_from_its_log_line_and_a_busy_cards_history_pages_back_to_its_first_click_on_SQLite() =>
        OnGatewayAsync([], "sqlite");

    [SkippableFact]
    public Task A_click_is_found_from_its_log_line_and_a_busy_cards_history_pages_back_to_its_first_click_on_PostgreSQL() =>
        PostgresServer.WithDatabaseAsync(connectionString => OnGatewayAsync(GatewayFactory.PostgresSettings(connectionString), "postgres"));

    [Fact]
    public async Task Hostile_parameters_are_a_400_or_a_404_naming_what_is_wrong_never_a_500()
    {
        using var api = fixture.Gateway.CreateAdminClient();
        var history = "/api/cards/any-card/callbacks";

        foreach (var (query, parameter) in new[]
        {
            ("limit=501", "limit"), ("limit=0", "limit"), ("limit=-1", "limit"), ("limit=99999999999", "limit"), ("limit=lots", "limit"),
            ("before=garbage!", "before"), ($"before={Cursor("12")}", "before"), ($"before={Cursor("12:")}", "before"), ($"before={Cursor("x:id")}", "before"),
            ($"before={Cursor("12:a\u0001b")}", "before"), ($"before={new string('A', 10_000)}", "before"), ("before=", "before"),
            ("outcome=1", "outcome"), ("outcome=Handled,Unhandled", "outcome"), ("outcome=won", "outcome"), ("outcome=", "outcome"),
            ($"userId={new string('u', 300)}", "userId"),
        })
        {
            var problem = await HttpAssert.ProblemAsync(await api.GetAsync($"{history}?{query}"), HttpStatusCode.BadRequest);
            Assert.Contains(parameter, problem.GetRawText(), StringComparison.Ordinal);
        }

        var tooLong = await HttpAssert.ProblemAsync(await api.GetAsync($"/api/callbacks/{new string('a', 10_000)}"), HttpStatusCode.BadRequest);
        var control = await HttpAssert.ProblemAsync(await api.GetAsync("/api/callbacks/a%01b"), HttpStatusCode.BadRequest);
        var unknown = await HttpAssert.ProblemAsync(await api.GetAsync($"/api/callbacks/{Uri.EscapeDataString("1795770000000.not:recorded/..%")}"), HttpStatusCode.NotFound);
        var noCard = await HttpAssert.ProblemAsync(await api.GetAsync($"/api/cards/{new string('c', 10_000)}/callbacks?userId=u1"), HttpStatusCode.NotFound);

        Assert.True(tooLong.GetProperty("errors").TryGetProperty("callbackId", out _));
        Assert.True(control.GetProperty("errors").TryGetProperty("callbackId", out _));
        Assert.Contains("not recorded, or older than Gateway:Storage:Retention", unknown.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("Gateway:Storage:Retention", noCard.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var anonymous = fixture.Gateway.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/callbacks/any")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(history)).StatusCode);
    }

    [Theory]
    [InlineData("/api/callbacks/{callbackId}", new[] { "200", "400", "401", "404", "503" })]
    [InlineData("/api/cards/{outTrackId}/callbacks", new[] { "200", "400", "401", "404", "503" })]
    [InlineData("/api/callbacks", new[] { "200", "400", "401", "503" })]
    [InlineData("/api/handlers", new[] { "200", "400", "401", "503" })]
    public async Task Swagger_documents_the_routes_and_the_problems_they_answer(string path, string[] statuses)
    {
        using var client = fixture.Gateway.CreateClient();

        var doc = await HttpAssert.JsonAsync(await client.GetAsync("/openapi/v1.json"), HttpStatusCode.OK);

        var route = doc.GetProperty("paths").GetProperty(path).GetProperty("get");
        Assert.Equal(statuses.ToHashSet(), route.GetProperty("responses").EnumerateObject().Select(r => r.Name).ToHashSet());
        Assert.Contains("Gateway:Storage:Retention", route.GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    private async Task OnGatewayAsync(Dictionary<string, string?> settings, string prefix)
    {
        await using var gateway = new GatewayFactory(fixture.DingTalk, settings);
        using var api = gateway.CreateAdminClient();

        // A click no handler claims, over HTTP: warning 3101 names its callback id, which finds the click as recorded.
        var unclaimed = $"{prefix}-unclaimed-{Guid.NewGuid():N}";
        (await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.nobody", outTrackId = unclaimed, openConversationId = "cidHistory==" })).EnsureSuccessStatusCode();
        using var client = gateway.CreateClient();
        await HttpAssert.JsonAsync(await client.SendAsync(CardClick.Create(unclaimed, "voter7", new { action = "dance", option = "B" }, GatewayFactory.ApiSecret)), HttpStatusCode.OK);
        var callbackId = LoggedCallbackId(gateway.LogEvents, unclaimed);

        var found = await HttpAssert.JsonAsync(await api.GetAsync($"/api/callbacks/{Uri.EscapeDataString(callbackId)}"), HttpStatusCode.OK);

        Assert.Matches("^[0-9]{13}\\.[A-Za-z0-9_-]{22}$", callbackId); // a signed delivery's timestamp, then the hash
        Assert.Equal(callbackId, found.GetProperty("callbackId").GetString());
        Assert.Equal((unclaimed, "Http", "ActionCallback", "voter7", "dance"), (
            found.GetProperty("cardId").GetString(), found.GetProperty("transport").GetString(), found.GetProperty("type").GetString(),
            found.GetProperty("userId").GetString(), found.GetProperty("action").GetString()));
        Assert.Equal("btn", found.GetProperty("actionIds")[0].GetString());
        Assert.Equal("B", found.GetProperty("params").GetProperty("option").GetString());
        Assert.Equal(("Unhandled", "{}"), (found.GetProperty("outcome").GetString(), found.GetProperty("answerJson").GetString()));
        Assert.True(found.GetProperty("completedAt").GetDateTimeOffset() >= found.GetProperty("receivedAt").GetDateTimeOffset());
        Assert.True(found.GetProperty("durationMs").GetDouble() >= 0);

        // A busy card: 250 clicks by five users, two or three a millisecond.
        var busy = $"{prefix}-busy-{Guid.NewGuid():N}";
        (await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.busy", outTrackId = busy, openConversationId = "cidHistory==" })).EnsureSuccessStatusCode();
        var added = await RecordAsync(gateway, busy, 250);

        var state = await HttpAssert.JsonAsync(await api.GetAsync($"/api/cards/{busy}"), HttpStatusCode.OK);
        var recent = Ids(state.GetProperty("callbacks"));
        var older = await PageThroughAsync(api, $"/api/cards/{busy}/callbacks?limit=60", state.GetProperty("callbacksNext").GetString());
        var everything = await PageThroughAsync(api, $"/api/cards/{busy}/callbacks?limit=37", before: null);
        var voter3 = await PageThroughAsync(api, $"/api/cards/{busy}/callbacks?userId=voter3&limit=9", before: null);
        var whole = await HttpAssert.JsonAsync(await api.GetAsync($"/api/cards/{busy}/callbacks?limit=500&outcome=pending"), HttpStatusCode.OK);
        var handled = await HttpAssert.JsonAsync(await api.GetAsync($"/api/cards/{busy}/callbacks?outcome=Handled"), HttpStatusCode.OK);

        Assert.Equal(100, recent.Count);
        Assert.Equal(added.TakeLast(100).Select(c => c.CallbackId).Order(StringComparer.Ordinal), recent.Order(StringComparer.Ordinal)); // its last 100
        Assert.Equal(150, older.Count);
        Assert.Equal(Sorted(added.Select(c => c.CallbackId)), Sorted(recent.Concat(older))); // the rest, none twice
        Assert.Equal(Sorted(added.Select(c => c.CallbackId)), Sorted(everything));
        Assert.Equal(250, everything.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(added.Select(c => c.CallbackId).Reverse().Take(37), everything.Take(37)); // newest first
        Assert.Equal(Sorted(added.Where(c => c.UserId == "voter3").Select(c => c.CallbackId)), Sorted(voter3));
        Assert.Equal(250, whole.GetProperty("callbacks").GetArrayLength());
        Assert.False(whole.TryGetProperty("next", out _)); // the last page
        Assert.Equal(0, handled.GetProperty("callbacks").GetArrayLength()); // a card's, filtered to nothing: 200, empty

        // A card the gateway did not send but has callbacks for; one it knows nothing of.
        var foreign = $"{prefix}-foreign-{Guid.NewGuid():N}";
        await RecordAsync(gateway, foreign, 3);
        var foreignPage = await HttpAssert.JsonAsync(await api.GetAsync($"/api/cards/{foreign}/callbacks?userId=voter1"), HttpStatusCode.OK);
        Assert.Equal(1, foreignPage.GetProperty("callbacks").GetArrayLength());
        Assert.False((await HttpAssert.JsonAsync(await api.GetAsync($"/api/cards/{foreign}"), HttpStatusCode.OK)).TryGetProperty("callbacksNext", out _));
        await HttpAssert.ProblemAsync(await api.GetAsync($"/api/cards/{prefix}-never-{Guid.NewGuid():N}/callbacks"), HttpStatusCode.NotFound);
        await HttpAssert.ProblemAsync(await api.GetAsync($"/api/cards/{new string('c', 10_000)}/callbacks"), HttpStatusCode.NotFound);
        await HttpAssert.ProblemAsync(await api.GetAsync($"/api/callbacks/{callbackId}x"), HttpStatusCode.NotFound);
    }

    /// <summary>The <c>CallbackId</c> of warning 3101 (no handler) about the card.</summary>
    internal static string LoggedCallbackId(IEnumerable<LogEvent> events, string cardId)
    {
        var line = Assert.Single(events, e => CardCallbackEndpointTests.EventId(e) == 3101 && e.RenderMessage().Contains(cardId, StringComparison.Ordinal));
        Assert.True(line.Properties.TryGetValue("CallbackId", out var id), "3101 names the callback id");
        return Assert.IsType<string>(Assert.IsType<ScalarValue>(id).Value);
    }

    /// <summary>Records clicks on the card as the pipeline does, <paramref name="count"/> of them by five users, oldest first.</summary>
    private static async Task<List<CallbackRecord>> RecordAsync(GatewayFactory gateway, string cardId, int count)
    {
        var added = Enumerable.Range(0, count).Select(i => new CallbackRecord
        {
            CallbackId = $"{T0.AddMilliseconds(i * 2 / 5).ToUnixTimeMilliseconds()}.{Base64Url.EncodeToString(Guid.NewGuid().ToByteArray())}",
            CardId = cardId,
            Transport = "Http",
            Type = "ActionCallback",
            UserId = $"voter{i % 5}",
            Action = "vote",
            ActionIds = ["btn"],
            Params = JsonSerializer.SerializeToElement(new { action = "vote", option = "A" }),
            ReceivedAt = T0.AddMilliseconds(i * 2 / 5),
        }).ToList();
        await using var scope = gateway.Services.CreateAsyncScope();
        var store = scope.ServiceProvider.GetRequiredService<ICallbackStore>();
        foreach (var callback in added)
        {
            Assert.True(await store.TryAddAsync(callback, default));
        }

        // Newest first is by time, then id: the order the history gives them in.
        return [.. added.OrderBy(c => c.ReceivedAt).ThenBy(c => c.CallbackId, StringComparer.Ordinal)];
    }

    /// <summary>The ids of every page from <paramref name="before"/> on, following each page's <c>next</c>.</summary>
    private static async Task<List<string>> PageThroughAsync(HttpClient api, string path, string? before)
    {
        var ids = new List<string>();
        while (true)
        {
            var page = await HttpAssert.JsonAsync(await api.GetAsync(before is null ? path : $"{path}&before={Uri.EscapeDataString(before)}"), HttpStatusCode.OK);
            ids.AddRange(Ids(page.GetProperty("callbacks")));
            if (!page.TryGetProperty("next", out var next))
            {
                return ids;
            }

            before = next.GetString();
        }
    }

    private static List<string> Ids(JsonElement callbacks) => [.. callbacks.EnumerateArray().Select(c => c.GetProperty("callbackId").GetString()!)];

    private static List<string> Sorted(IEnumerable<string> ids) => [.. ids.Order(StringComparer.Ordinal)];

    private static string Cursor(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));
}

/// <summary>A click over Stream is found from its log line too, by the id the gateway made of its <c>messageId</c>.</summary>
[Collection(StreamGatewayCollection.Name)]
public sealed class StreamCallbackLookupTests(StreamGateway gateway)
{
    [Fact]
    public async Task A_stream_click_is_found_by_the_callback_id_its_log_line_names()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.nobody");

        var answer = await gateway.ClickAsync(outTrackId, "voter9", new { action = "dance" }, messageId: $"msg_{Guid.NewGuid():N}_stream/+=");
        var callbackId = CallbackHistoryTests.LoggedCallbackId(gateway.Logs.LogEvents, outTrackId);
        var found = await HttpAssert.JsonAsync(await gateway.Api.GetAsync($"/api/callbacks/{Uri.EscapeDataString(callbackId)}"), HttpStatusCode.OK);

        Assert.Equal(200, answer.Code);
        Assert.Matches("^[A-Za-z0-9_-]{22}$", callbackId); // the messageId's hash
        Assert.Equal((outTrackId, "Stream", "voter9", "Unhandled"), (
            found.GetProperty("cardId").GetString(), found.GetProperty("transport").GetString(),
            found.GetProperty("userId").GetString(), found.GetProperty("outcome").GetString()));
    }
}
