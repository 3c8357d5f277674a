using System.Net;
using System.Net.Http.Json;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>A newcomer's first run: no credentials, so the gateway talks to its own emulator over a real socket.</summary>
public sealed class SandboxModeTests : IAsyncLifetime
{
    private WebApplicationFactory<Program> _gateway = null!;

    public Task InitializeAsync()
    {
        _gateway = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseEnvironment("Development");
            b.UseSetting("DingTalk:AppKey", "");
            b.UseSetting("Gateway:AdminApiKeys:0", "");
            b.UseSetting("DingTalk:Stream:Enabled", "true"); // the emulator's Stream side too: clients must find the port picked at start
            b.UseSetting("Gateway:Storage:ConnectionString", $"Data Source={Path.Combine(Path.GetTempPath(), $"cg-sandbox-{Guid.NewGuid():N}.db")}");
        });
        _gateway.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0)); // a free port, not the default 5000
        _gateway.StartServer();
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
        // What a newcomer meets after a restart: the gateway's SQLite file still has the card, the in-memory emulator not.
        using var client = _gateway.CreateClient();

        var clicked = await client.PostAsJsonAsync("/sandbox/stream/clicks", new { outTrackId = "sent-before-a-restart", userId = "u1", @params = new { action = "vote", option = "A" } });

        var problem = await HttpAssert.ProblemAsync(clicked, HttpStatusCode.NotFound);
        Assert.Equal("DingTalk has no card sent-before-a-restart: the sandbox starts empty with each run, so send the card again.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Swagger_ui_is_served()
    {
        using var client = _gateway.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/swagger/index.html")).StatusCode);
    }
}
