using System.Net;
using System.Net.Http.Json;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.Mvc.Testing;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>A newcomer's first run: no credentials, so the gateway talks to its own emulator over a real socket.</summary>
public sealed class SandboxModeTests : IAsyncLifetime
{
    private WebApplicationFactory<Program> _gateway = null!;

    public Task InitializeAsync()
    {
        // The emulator's Stream side too: clients must find the port picked at start.
        _gateway = SandboxModeGateway.Start(streamEnabled: true);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task A_card_sent_with_the_sandbox_key_appears_in_the_sandbox()
    {
        using var client = _gateway.CreateClient();
        client.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, ApiKeyAuthenticationHandler.SandboxKey);

        var sent = await client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = "first-card", openConversationId = "cidSandbox==", cardData = new { title = "Hello" } });
        var cards = await HttpAssert.JsonAsync(await client.GetAsync("/sandbox/cards"), HttpStatusCode.OK);

        await HttpAssert.JsonAsync(sent, HttpStatusCode.Created);
        Assert.Contains(cards.GetProperty("cards").EnumerateArray(), c => c.GetProperty("outTrackId").GetString() == "first-card");
        await Tests.Callbacks.Eventually.TrueAsync(
            async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK,
            "ready: storage, token and the Stream connection to the emulator on this server's own port");
    }

    [Fact]
    public async Task A_typewriter_reply_can_be_read_in_the_sandboxs_card_list()
    {
        using var client = _gateway.CreateClient();
        client.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, ApiKeyAuthenticationHandler.SandboxKey);
        (await client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.ask", outTrackId = "ask-card", openConversationId = "cidSandbox==" })).EnsureSuccessStatusCode();

        var answer = await client.SendAsync(CardClick.Create("ask-card", "u1", new { action = "ask", question = "Hello sandbox" }));

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        string? typed = null;
        await Tests.Callbacks.Eventually.TrueAsync(
            async () =>
            {
                var cards = await HttpAssert.JsonAsync(await client.GetAsync("/sandbox/cards"), HttpStatusCode.OK);
                var card = cards.GetProperty("cards").EnumerateArray().Single(c => c.GetProperty("outTrackId").GetString() == "ask-card");
                var frames = card.GetProperty("streamingFrames").EnumerateArray().ToList();
                typed = card.GetProperty("streamedText").TryGetProperty("content", out var text) ? text.GetString() : null;
                return frames.Count > 0 && frames[^1].GetProperty("isFinalize").GetBoolean();
            },
            "the typewriter's last frame reached the sandbox");
        Assert.Contains("Hello sandbox", typed, StringComparison.Ordinal); // the echo source types the question back
    }

    [Fact]
    public async Task A_click_over_Stream_can_be_made_by_hand_and_answers_with_the_clickers_update()
    {
        using var client = _gateway.CreateClient();
        client.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, ApiKeyAuthenticationHandler.SandboxKey);
        (await client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = "stream-poll", openConversationId = "cidSandbox==" })).EnsureSuccessStatusCode();
        (await client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = "http-poll", openConversationId = "cidSandbox==", callbackType = "HTTP" })).EnsureSuccessStatusCode();
        await Tests.Callbacks.Eventually.TrueAsync(async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, "the Stream connection is up");

        var clicked = await HttpAssert.JsonAsync(
            await client.PostAsJsonAsync("/sandbox/stream/clicks", new { outTrackId = "stream-poll", userId = "u1", @params = new { action = "vote", option = "A" } }),
            HttpStatusCode.OK);
        var notStream = await client.PostAsJsonAsync("/sandbox/stream/clicks", new { outTrackId = "http-poll", userId = "u1", @params = new { action = "vote", option = "A" } });

        Assert.Equal(200, clicked.GetProperty("code").GetInt32());
        Assert.Equal("A", clicked.GetProperty("data").GetProperty("response").GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myVote").GetString());
        Assert.Contains("over HTTP, never over Stream", (await HttpAssert.ProblemAsync(notStream, HttpStatusCode.Conflict)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_click_over_Stream_on_a_card_the_sandbox_does_not_have_is_404_saying_to_send_it_again()
    {
        // What a newcomer meets with a mistyped id, or after a restart on a database the emulator keeps no file beside.
        using var client = _gateway.CreateClient();

        var clicked = await client.PostAsJsonAsync("/sandbox/stream/clicks", new { outTrackId = "sent-before-a-restart", userId = "u1", @params = new { action = "vote", option = "A" } });

        var problem = await HttpAssert.ProblemAsync(clicked, HttpStatusCode.NotFound);
        Assert.Equal("DingTalk has no card sent-before-a-restart: check the id against GET /sandbox/cards. The emulator keeps its cards across restarts only beside a SQLite database file; a card it does not have must be sent again.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_Stream_card_clicked_through_the_sandbox_goes_over_the_Stream_connection_and_counts_both_clickers()
    {
        using var client = _gateway.CreateClient();
        client.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, ApiKeyAuthenticationHandler.SandboxKey);
        (await client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = "page-stream-poll", openConversationId = "cidSandbox==" })).EnsureSuccessStatusCode();
        await Tests.Callbacks.Eventually.TrueAsync(async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, "the Stream connection is up");

        var first = await HttpAssert.JsonAsync(
            await client.PostAsJsonAsync("/sandbox/clicks", new { outTrackId = "page-stream-poll", userId = "u1", @params = new { action = "vote", option = "A" } }),
            HttpStatusCode.OK);
        await HttpAssert.JsonAsync(
            await client.PostAsJsonAsync("/sandbox/clicks", new { outTrackId = "page-stream-poll", userId = "u2", @params = new { action = "vote", option = "B" } }),
            HttpStatusCode.OK);

        Assert.Equal("STREAM", first.GetProperty("via").GetString());
        Assert.Equal(200, first.GetProperty("status").GetInt32());
        Assert.Equal("A", first.GetProperty("answer").GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myVote").GetString());
        var cards = await HttpAssert.JsonAsync(await client.GetAsync("/sandbox/cards"), HttpStatusCode.OK);
        var clickers = cards.GetProperty("cards").EnumerateArray().Single(c => c.GetProperty("outTrackId").GetString() == "page-stream-poll").GetProperty("privateData");
        Assert.Equal("A", clickers.GetProperty("u1").GetProperty("myVote").GetString()); // the answer's update, shown to its clicker alone
        Assert.Equal("B", clickers.GetProperty("u2").GetProperty("myVote").GetString());
        await Tests.Callbacks.Eventually.TrueAsync(
            async () =>
            {
                var cards = await HttpAssert.JsonAsync(await client.GetAsync("/sandbox/cards"), HttpStatusCode.OK);
                var card = cards.GetProperty("cards").EnumerateArray().Single(c => c.GetProperty("outTrackId").GetString() == "page-stream-poll");
                return card.GetProperty("cardData").TryGetProperty("total", out var total) && total.GetString() == "2";
            },
            "everyone's update with both votes reached the emulated DingTalk");
    }

    [Fact]
    public async Task An_HTTP_card_clicked_through_the_sandbox_with_no_callback_url_registered_is_409_saying_what_to_configure()
    {
        // Stream mode registers no callback URL, so DingTalk has nowhere to post an HTTP card's clicks.
        using var client = _gateway.CreateClient();
        client.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, ApiKeyAuthenticationHandler.SandboxKey);
        (await client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = "page-http-poll", openConversationId = "cidSandbox==", callbackType = "HTTP" })).EnsureSuccessStatusCode();

        var clicked = await client.PostAsJsonAsync("/sandbox/clicks", new { outTrackId = "page-http-poll", userId = "u1", @params = new { action = "vote", option = "A" } });

        var detail = (await HttpAssert.ProblemAsync(clicked, HttpStatusCode.Conflict)).GetProperty("detail").GetString();
        Assert.Contains("No callback URL is registered for route key 'card-gateway'", detail, StringComparison.Ordinal);
        Assert.Contains("DingTalk:Stream:Enabled=true: then send cards with callbackType STREAM", detail, StringComparison.Ordinal);
    }

    /// <summary>Swagger lists no sandbox route, so a sandbox body's error says what the value must be instead of pointing there.</summary>
    [Theory]
    [InlineData("/sandbox/clicks", """{"outTrackId":"c","userId":"u1","params":"vote"}""", "$.params", "an object")]
    [InlineData("/sandbox/clicks", """{"outTrackId":"c","userId":5}""", "$.userId", "a string")]
    [InlineData("/sandbox/clicks", "[1]", "$", "an object")]
    [InlineData("/sandbox/stream/clicks", """{"outTrackId":"c","userId":"u1","params":[]}""", "$.params", "an object")]
    [InlineData("/sandbox/stream/clicks", "\"c\"", "$", "an object")]
    public async Task A_click_with_a_value_of_the_wrong_kind_is_400_saying_what_it_must_be(string path, string body, string at, string kind)
    {
        using var client = _gateway.CreateClient();

        var answer = await client.PostAsync(path, new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        var detail = (await HttpAssert.ProblemAsync(answer, HttpStatusCode.BadRequest)).GetProperty("detail").GetString();
        Assert.Equal($"The body is not valid for this endpoint at {at}: The JSON value here must be {kind}.", detail);
    }

    [Fact]
    public async Task Swagger_ui_is_served()
    {
        using var client = _gateway.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/swagger/index.html")).StatusCode);
    }
}
