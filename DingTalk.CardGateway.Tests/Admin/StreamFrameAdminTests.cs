using System.Net;
using System.Net.Http.Json;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.Sandbox;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace DingTalk.CardGateway.Tests.Admin;

/// <summary>
/// An operator's frames (<c>POST /api/cards/{id}/stream</c>) as the typewriter's own: kept in the stored card, at the
/// card's pace, and never between two frames of a text being typed into the card — in this process, or on another
/// replica on the same PostgreSQL.
/// </summary>
public sealed class StreamFrameAdminTests : IAsyncLifetime
{
    /// <summary>DingTalk refuses streaming frames to one card closer than about this.</summary>
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(500);

    private static readonly Dictionary<string, string?> Paced = new() { ["Gateway:Handlers:StreamFrameInterval"] = "00:00:00.500" };

    private readonly CallbackGateway _gateway = CallbackGateway.With(Paced);

    public Task InitializeAsync() => _gateway.InitializeAsync();

    public Task DisposeAsync() => _gateway.DisposeAsync();

    [Fact]
    public async Task A_streamed_text_is_kept_in_the_stored_card_so_a_resend_carries_it_not_the_older_value()
    {
        var card = await _gateway.SendCardAsync("tpl.assistant", new { content = "the older value" });

        await StreamAsync(_gateway.Api, card, new { key = "content", content = "Hello" }, HttpStatusCode.NoContent);
        Assert.Equal("Hello", await StoredAsync(card));

        await StreamAsync(_gateway.Api, card, new { key = "content", content = ", world", isFull = false, isFinalize = true }, HttpStatusCode.NoContent);
        Assert.Equal("Hello, world", _gateway.DingTalk.State.FindCard(card)!.StreamingText("content")); // DingTalk appended it
        Assert.Equal("Hello, world", await StoredAsync(card));

        Assert.Equal(HttpStatusCode.NoContent, (await _gateway.Api.PostAsync($"/api/cards/{card}/resend", null)).StatusCode);
        Assert.Equal("Hello, world", _gateway.DingTalk.State.FindCard(card)!.CardData["content"]);
    }

    [Fact]
    public async Task Frames_posted_at_once_reach_DingTalk_at_the_cards_pace()
    {
        var card = await _gateway.SendCardAsync("tpl.assistant", new { content = "" });

        await Task.WhenAll(Enumerable.Range(1, 3).Select(i => StreamAsync(_gateway.Api, card, new { key = "content", content = $"[{i}]", isFull = false }, HttpStatusCode.NoContent)));

        AssertPaced(FramesTo(_gateway.DingTalk, card), count: 3);
        var shown = _gateway.DingTalk.State.FindCard(card)!.StreamingText("content")!;
        Assert.Equal(9, shown.Length); // all three appended, in the order they went
        Assert.Equal(shown, await StoredAsync(card)); // each appended to the value the one before stored
    }

    [Fact]
    public async Task A_frame_while_a_text_is_typed_into_the_card_is_a_409_saying_so_and_lands_nowhere()
    {
        var card = await _gateway.SendCardAsync("tpl.assistant", new { content = "" });
        var text = _gateway.TypedText.For(card);
        await _gateway.ClickAsync(card, "u1", new { action = "type" });
        text.Writer.TryWrite("The reply ");
        await Eventually.TrueAsync(() => _gateway.DingTalk.State.FindCard(card)!.StreamingFrames.Count == 1, "the text's first frame");

        using var refused = await _gateway.Api.PostAsJsonAsync($"/api/cards/{card}/stream", new { key = "content", content = "an operator's frame" });

        var problem = await HttpAssert.JsonAsync(refused, HttpStatusCode.Conflict);
        Assert.Contains("typing a text", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(5), refused.Headers.RetryAfter?.Delta);
        text.Writer.TryWrite("goes on.");
        text.Writer.TryComplete();
        var typed = await Eventually.ValueAsync(
            () => _gateway.DingTalk.State.FindCard(card) is { } c && c.IsStreamingFinalized("content") ? c.StreamingFrames : null, "the text's final frame");
        Assert.All(typed, f => Assert.StartsWith(f.Content, "The reply goes on.", StringComparison.Ordinal)); // no frame of the operator's between the text's

        // Once the text has sent its last frame it has ended: the operator's frame goes, at the card's pace after that frame,
        // however long the text then takes to store its text and let the card go.
        await StreamAsync(_gateway.Api, card, new { key = "content", content = "an operator's frame" }, HttpStatusCode.NoContent);
        AssertPaced(FramesTo(_gateway.DingTalk, card), count: typed.Count + 1);
        Assert.Equal("an operator's frame", await StoredAsync(card));
    }

    /// <summary>
    /// An update of the card is queued (and stored) but DingTalk refuses it for now, so it is still in the outbox when an
    /// operator's frame goes: the frame reaches DingTalk before the update, the store took them the other way round.
    /// Whatever order they land in, the card the gateway keeps ends as the card DingTalk shows.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public Task A_frame_while_an_update_of_the_card_waits_in_the_outbox_leaves_the_stored_card_as_DingTalk_shows_it(bool isFull) =>
        FrameWhileAnUpdateWaitsAsync(_gateway, isFull);

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public Task On_PostgreSQL_a_frame_while_an_update_of_the_card_waits_in_the_outbox_leaves_the_stored_card_as_DingTalk_shows_it(bool isFull) =>
        WaitingHandlerTests.OnPostgresAsync(gateway => FrameWhileAnUpdateWaitsAsync(gateway, isFull), Paced);

    private static async Task FrameWhileAnUpdateWaitsAsync(CallbackGateway gateway, bool isFull)
    {
        var card = await gateway.SendCardAsync("tpl.assistant", new { content = "A" });
        gateway.DingTalk.State.FailNext(HttpMethod.Put, "/v1.0/card/instances", 503, "ServiceUnavailable", times: 10_000, retryAfterSeconds: 0, bodyContains: card);
        var update = gateway.Api.PutAsJsonAsync($"/api/cards/{card}", new { cardData = new { content = "B" } });
        await Eventually.TrueAsync(() => UpdatesTo(gateway.DingTalk, card).Any(r => r.Status == 503), "the update refused once");

        await StreamAsync(gateway.Api, card, new { key = "content", content = "x", isFull }, HttpStatusCode.NoContent);
        gateway.DingTalk.State.ClearFaults(); // DingTalk takes the update now, after the frame
        using (var updated = await update)
        {
            Assert.True(updated.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.Accepted, $"{(int)updated.StatusCode}");
        }

        await AssertShownAsStoredAsync(gateway, card, created: "A");
    }

    /// <summary>
    /// An update is queued and delivered after an appending frame has read the card and before DingTalk takes the frame:
    /// DingTalk appends the frame to the update's value, and so must the stored card.
    /// </summary>
    [Fact]
    public async Task An_update_delivered_between_an_appending_frames_read_of_the_card_and_its_send_is_kept_under_the_frame()
    {
        var race = new UpdateDuringFrame();
        await using var gateway = CallbackGateway.With(Paced, services => UpdateDuringFrame.Replace(services, race));
        await gateway.InitializeAsync();
        await UpdateDuringFrameAsync(gateway, race);
    }

    [SkippableFact]
    public async Task On_PostgreSQL_an_update_delivered_between_an_appending_frames_read_of_the_card_and_its_send_is_kept_under_the_frame()
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            var race = new UpdateDuringFrame();
            await using var gateway = CallbackGateway.With(GatewayFactory.PostgresSettings(connectionString, Paced), services => UpdateDuringFrame.Replace(services, race));
            await gateway.InitializeAsync();
            await UpdateDuringFrameAsync(gateway, race);
        });
    }

    private static async Task UpdateDuringFrameAsync(CallbackGateway gateway, UpdateDuringFrame race)
    {
        var card = await gateway.SendCardAsync("tpl.assistant", new { content = "A" });
        race.Id = card;
        race.Update = async () =>
        {
            using var updated = await gateway.Api.PutAsJsonAsync($"/api/cards/{card}", new { cardData = new { content = "B" } });
            Assert.Equal(HttpStatusCode.NoContent, updated.StatusCode); // delivered before the frame goes
        };

        await StreamAsync(gateway.Api, card, new { key = "content", content = "x", isFull = false }, HttpStatusCode.NoContent);

        Assert.True(race.Ran, "the update ran between the frame's read and its send");
        await AssertShownAsStoredAsync(gateway, card, created: "A");
    }

    /// <summary>Once the card's outbox has drained, the card's stored <c>content</c> is what DingTalk shows.</summary>
    private static async Task AssertShownAsStoredAsync(CallbackGateway gateway, string card, string created)
    {
        await Eventually.TrueAsync(
            async () => (await HttpAssert.JsonAsync(await gateway.Api.GetAsync($"/api/cards/{card}"), HttpStatusCode.OK)).GetProperty("undelivered").GetArrayLength() == 0,
            "the card's outbox drained");
        var stored = await HttpAssert.JsonAsync(await gateway.Api.GetAsync($"/api/cards/{card}"), HttpStatusCode.OK);
        Assert.Equal(
            ShownByDingTalk(gateway.DingTalk, card, "content", created),
            stored.GetProperty("card").GetProperty("publicData").GetProperty("content").GetString());
    }

    /// <summary>Two gateways on one PostgreSQL: the card's typing lease, not the process, says a text is being typed.</summary>
    [SkippableFact]
    public async Task A_frame_on_one_replica_while_another_types_into_the_card_is_a_409_and_then_keeps_its_pace()
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            await using var dingTalk = await FakeDingTalk.StartAsync();
            var settings = GatewayFactory.PostgresSettings(connectionString, new Dictionary<string, string?>(CallbackGateway.Settings.Concat(Paced).GroupBy(p => p.Key).Select(g => g.Last())));
            await using var typing = new GatewayFactory(dingTalk, settings);
            await using var other = new GatewayFactory(dingTalk, settings);
            await using var typingApp = typing.WithWebHostBuilder(WithTypedText);
            using var typingApi = typingApp.CreateClient();
            typingApi.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, GatewayFactory.AdminKey);
            using var otherApi = other.CreateAdminClient();
            const string card = "replica-frame";
            await HttpAssert.JsonAsync(
                await typingApi.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.assistant", outTrackId = card, openConversationId = "cidReplicas==", cardData = new { content = "" } }),
                HttpStatusCode.Created);
            var text = typingApp.Services.GetRequiredService<TypedText>().For(card);
            using (var click = DingTalkCallback.Signed(DingTalkCallback.Body(card, "u1", new { action = "type" }), GatewayFactory.ApiSecret))
            {
                await HttpAssert.JsonAsync(await typingApi.SendAsync(click), HttpStatusCode.OK);
            }

            text.Writer.TryWrite("Typed on the first replica");
            await Eventually.TrueAsync(() => dingTalk.State.FindCard(card)!.StreamingFrames.Count == 1, "the text's first frame");

            using var refused = await otherApi.PostAsJsonAsync($"/api/cards/{card}/stream", new { key = "content", content = "from the other replica" });

            var problem = await HttpAssert.JsonAsync(refused, HttpStatusCode.Conflict);
            Assert.Contains("another replica is typing a text", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.NotNull(refused.Headers.RetryAfter);
            Assert.Single(dingTalk.State.FindCard(card)!.StreamingFrames); // nothing sent

            text.Writer.TryComplete();
            var typed = await Eventually.ValueAsync(
                () => dingTalk.State.FindCard(card) is { } c && c.IsStreamingFinalized("content") ? c.StreamingFrames : null, "the text's final frame");
            await StreamAsync(otherApi, card, new { key = "content", content = "from the other replica" }, HttpStatusCode.NoContent);
            AssertPaced(FramesTo(dingTalk, card), count: typed.Count + 1);
            Assert.Equal("from the other replica", dingTalk.State.FindCard(card)!.StreamingText("content"));
            var stored = await HttpAssert.JsonAsync(await typingApi.GetAsync($"/api/cards/{card}"), HttpStatusCode.OK);
            Assert.Equal("from the other replica", stored.GetProperty("card").GetProperty("publicData").GetProperty("content").GetString());
        });
    }

    /// <summary>What <see cref="UpdateDuringFrame"/> runs, and on which card.</summary>
    private sealed class UpdateDuringFrame
    {
        public string? Id;
        public Func<Task>? Update;
        public bool Ran;
        public int Looks;

        /// <summary>
        /// The card store, but the frame's look at the card in its turn — the second look outside a transaction once the
        /// card is named (the route's own check of the card's kind is the first) — runs the update before it answers.
        /// </summary>
        public static void Replace(IServiceCollection services, UpdateDuringFrame race)
        {
            services.RemoveAll<ICardStore>();
            services.AddScoped<ICardStore>(sp => new Store(ActivatorUtilities.CreateInstance<SqlCardStore>(sp), race, sp.GetRequiredService<StorageSession>()));
        }

        private sealed class Store(ICardStore inner, UpdateDuringFrame race, StorageSession session) : DelegatingCardStore(inner)
        {
            public override async Task<CardRecord?> FindAsync(string id, CancellationToken cancellationToken)
            {
                var found = await Inner.FindAsync(id, cancellationToken);
                if (id == race.Id && !session.InTransaction && Interlocked.Increment(ref race.Looks) == 2 && race.Update is { } update)
                {
                    await update();
                    race.Ran = true;
                }

                return found;
            }
        }
    }

    private static void WithTypedText(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder) => builder.ConfigureServices(services =>
    {
        services.AddSingleton<TypedText>();
        services.AddCardActionHandler<TypedTextHandler>(on => on.Action("type"));
    });

    private static async Task StreamAsync(HttpClient api, string card, object frame, HttpStatusCode expected)
    {
        using var response = await api.PostAsJsonAsync($"/api/cards/{card}/stream", frame);
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    private async Task<string?> StoredAsync(string card)
    {
        var stored = await HttpAssert.JsonAsync(await _gateway.Api.GetAsync($"/api/cards/{card}"), HttpStatusCode.OK);
        return stored.GetProperty("card").GetProperty("publicData").GetProperty("content").GetString();
    }

    private static List<ReceivedRequest> UpdatesTo(FakeDingTalk dingTalk, string card) =>
        [.. dingTalk.State.RequestsTo("/v1.0/card/instances").Where(r => r.Method == "PUT" && r.Body.Contains(card, StringComparison.Ordinal))];

    /// <summary>
    /// What DingTalk shows for <paramref name="key"/>: from its value at creation, every call DingTalk took for the card
    /// applied in the order it took them — an update's value replaces it, a full frame replaces it, any other frame appends.
    /// </summary>
    private static string ShownByDingTalk(FakeDingTalk dingTalk, string card, string key, string created)
    {
        var shown = created;
        foreach (var call in dingTalk.State.Requests.Where(r => r.Status == 200 && r.Method == "PUT" && r.Body.Contains(card, StringComparison.Ordinal)))
        {
            using var body = System.Text.Json.JsonDocument.Parse(call.Body);
            var root = body.RootElement;
            if (call.Path.EndsWith("/v1.0/card/streaming", StringComparison.Ordinal))
            {
                if (root.GetProperty("key").GetString() == key)
                {
                    var content = root.GetProperty("content").GetString();
                    shown = root.GetProperty("isFull").GetBoolean() ? content! : shown + content;
                }
            }
            else if (call.Path.EndsWith("/v1.0/card/instances", StringComparison.Ordinal)
                && root.TryGetProperty("cardData", out var data) && data.GetProperty("cardParamMap").TryGetProperty(key, out var value))
            {
                shown = value.GetString()!;
            }
        }

        return shown;
    }

    private static List<ReceivedRequest> FramesTo(FakeDingTalk dingTalk, string card) =>
        [.. dingTalk.State.RequestsTo("/v1.0/card/streaming").Where(r => r.Body.Contains(card, StringComparison.Ordinal))];

    /// <summary>Every frame taken at once (no 403 for DingTalk's pace) and at least <see cref="Pace"/> after the one before, by DingTalk's clock.</summary>
    private static void AssertPaced(List<ReceivedRequest> frames, int count)
    {
        Assert.Equal(count, frames.Count);
        Assert.All(frames, f => Assert.Equal(200, f.Status));
        Assert.All(frames.Zip(frames.Skip(1)), pair => Assert.True(pair.Second.At - pair.First.At >= Pace, $"two frames {(pair.Second.At - pair.First.At).TotalMilliseconds} ms apart"));
    }
}
