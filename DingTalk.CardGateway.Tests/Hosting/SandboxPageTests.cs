using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.Mvc.Testing;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>The README's quick start: <c>dotnet run</c>, send a card, open <c>/sandbox/</c> and click it (HTTP callbacks, no Stream).</summary>
public sealed partial class SandboxPageTests : IAsyncLifetime
{
    private WebApplicationFactory<Program> _gateway = null!;
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        _gateway = SandboxModeGateway.Start(streamEnabled: false);
        _client = _gateway.CreateClient();
        _client.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, ApiKeyAuthenticationHandler.SandboxKey);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task A_poll_clicked_through_the_sandbox_by_two_users_answers_each_clicker_and_counts_both()
    {
        await HttpAssert.JsonAsync(
            await _client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = "lunch", openConversationId = "cidDemo==", cardData = new { title = "Lunch?" } }),
            HttpStatusCode.Created);
        await WhenCallbacksAreRegisteredAsync();

        var first = await ClickAsync(new { outTrackId = "lunch", userId = "u1", @params = new { action = "vote", option = "A" } });
        var second = await ClickAsync(new { outTrackId = "lunch", userId = "u2", @params = new { action = "vote", option = "A" } });

        Assert.Equal("HTTP", first.GetProperty("via").GetString());
        Assert.Equal(200, first.GetProperty("status").GetInt32());
        Assert.Equal("A", MyVote(first));
        Assert.Equal("A", MyVote(second));
        // DingTalk shows each clicker the answer's update: the page keeps it with that user's private data.
        var clickers = (await SandboxCardAsync("lunch")).GetProperty("privateData");
        Assert.Equal("A", clickers.GetProperty("u1").GetProperty("myVote").GetString());
        Assert.Equal("A", clickers.GetProperty("u2").GetProperty("myVote").GetString());
        await Eventually.TrueAsync(
            async () => CardData(await SandboxCardAsync("lunch")) is { } data && data.GetProperty("total").GetString() == "2" && data.GetProperty("votes_A").GetString() == "2",
            "everyone's update with both votes reached the emulated DingTalk");
    }

    [Fact]
    public async Task A_robot_card_clicked_through_the_sandbox_is_posted_to_the_callback_url_minted_into_it()
    {
        var cardData = new { header = new { title = new { type = "text", text = "Leave request" } }, contents = new object[] { new { type = "markdown", text = "Bob asks for Friday off", id = "intro" } } };
        await HttpAssert.JsonAsync(
            await _client.PostAsJsonAsync("/api/robot-cards", new { cardBizId = "leave-1", openConversationId = "cidDemo==", cardData }),
            HttpStatusCode.Created);

        var answer = await ClickAsync(new { cardBizId = "leave-1", userId = "manager1", @params = new { action = "approve" } });

        Assert.Equal("robot", answer.GetProperty("via").GetString());
        Assert.Equal("approved", answer.GetProperty("answer").GetProperty("cardData").GetProperty("cardParamMap").GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_click_on_a_card_the_sandbox_does_not_have_is_404_saying_to_check_the_id_or_send_it_again()
    {
        var advanced = await _client.PostAsJsonAsync("/sandbox/clicks", new { outTrackId = "sent-before-a-restart", userId = "u1", @params = new { action = "vote", option = "A" } });
        var robot = await _client.PostAsJsonAsync("/sandbox/clicks", new { cardBizId = "sent-before-a-restart", userId = "u1", @params = new { action = "approve" } });

        Assert.Equal(
            "DingTalk has no card sent-before-a-restart: check the id against GET /sandbox/cards. The emulator keeps its cards across restarts only beside a SQLite database file; a card it does not have must be sent again.",
            (await HttpAssert.ProblemAsync(advanced, HttpStatusCode.NotFound)).GetProperty("detail").GetString());
        Assert.Equal(
            "DingTalk has no robot card sent-before-a-restart: check the id against GET /sandbox/cards. The emulator keeps its cards across restarts only beside a SQLite database file; a card it does not have must be sent again.",
            (await HttpAssert.ProblemAsync(robot, HttpStatusCode.NotFound)).GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("/sandbox/")]
    [InlineData("/sandbox")]
    public async Task The_card_page_is_html_whose_policy_allows_only_its_own_script_and_calls_to_this_origin(string path)
    {
        using var anonymous = _gateway.CreateClient(); // the page asks for no key

        var response = await anonymous.GetAsync(path);
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var policy = response.Headers.GetValues("Content-Security-Policy").Single();
        var nonce = NonceInPolicy().Match(policy).Groups[1].Value;
        Assert.StartsWith("default-src 'none';", policy, StringComparison.Ordinal);
        Assert.Contains($"script-src 'nonce-{nonce}';", policy, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self';", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe", policy, StringComparison.Ordinal);
        Assert.Contains($"<script nonce=\"{nonce}\">", html, StringComparison.Ordinal);
        Assert.Contains("data-base=\"/sandbox\"", html, StringComparison.Ordinal);
        foreach (var element in new[] { "id=\"cards\"", "id=\"status\"", "id=\"card-template\"", "name=\"userId\"", "name=\"params\"", "class=\"answer\"" })
        {
            Assert.Contains(element, html, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("innerHTML", html, StringComparison.Ordinal);
        Assert.DoesNotContain("src=\"http", html, StringComparison.Ordinal);
        Assert.NotEqual(nonce, NonceInPolicy().Match((await anonymous.GetAsync(path)).Headers.GetValues("Content-Security-Policy").Single()).Groups[1].Value);
    }

    [Fact]
    public async Task The_card_page_says_the_emulator_keeps_its_cards_across_restarts_beside_a_SQLite_file()
    {
        using var anonymous = _gateway.CreateClient();

        var html = await (await anonymous.GetAsync("/sandbox/")).Content.ReadAsStringAsync();

        // What the newcomer sees after a restart of dotnet run (SandboxPersistence), not the page's first promise.
        Assert.Contains("keeps its cards across restarts beside a SQLite database file", html, StringComparison.Ordinal);
        Assert.DoesNotContain("The emulator starts empty with each run.", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_sandbox_api_still_gets_DingTalks_404()
    {
        var unknown = await HttpAssert.JsonAsync(await _client.GetAsync("/sandbox/v1.0/no/such/api"), HttpStatusCode.NotFound);

        Assert.Equal("InvalidAction.NotFound", unknown.GetProperty("code").GetString());
    }

    [GeneratedRegex("script-src 'nonce-([^']+)'")]
    private static partial Regex NonceInPolicy();

    private async Task<JsonElement> ClickAsync(object click) =>
        await HttpAssert.JsonAsync(await _client.PostAsJsonAsync("/sandbox/clicks", click), HttpStatusCode.OK);

    /// <summary>The gateway registers its callback URL with the emulator once it listens.</summary>
    private Task WhenCallbacksAreRegisteredAsync() => Eventually.TrueAsync(
        async () => (await HttpAssert.JsonAsync(await _client.GetAsync("/sandbox/cards"), HttpStatusCode.OK)).GetProperty("callbacks").GetArrayLength() > 0,
        "the gateway registered its callback URL with the emulator");

    private async Task<JsonElement> SandboxCardAsync(string outTrackId)
    {
        var cards = await HttpAssert.JsonAsync(await _client.GetAsync("/sandbox/cards"), HttpStatusCode.OK);
        return cards.GetProperty("cards").EnumerateArray().Single(c => c.GetProperty("outTrackId").GetString() == outTrackId);
    }

    private static JsonElement? CardData(JsonElement card) =>
        card.GetProperty("cardData").TryGetProperty("total", out _) ? card.GetProperty("cardData") : null;

    private static string? MyVote(JsonElement click) =>
        click.GetProperty("answer").GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myVote").GetString();
}
