using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.Mvc.Testing;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// A newcomer stops <c>dotnet run</c> and starts it again: the gateway's SQLite file still has its cards, and so must
/// the emulated DingTalk, or every later update of those cards is refused as <c>param.cardNotExist</c>.
/// </summary>
public sealed class SandboxRestartTests
{
    [Fact]
    public async Task After_a_restart_the_emulator_still_has_the_cards_and_takes_their_updates()
    {
        var file = Path.Combine(Path.GetTempPath(), $"cg-sandbox-restart-{Guid.NewGuid():N}.db");
        try
        {
            await using (var first = SandboxModeGateway.Start(streamEnabled: false, file))
            {
                using var client = Admin(first);
                (await client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = "kept-poll", openConversationId = "cidSandbox==", cardData = new { title = "Lunch?" } }))
                    .EnsureSuccessStatusCode();
                (await client.SendAsync(CardClick.Create("kept-poll", "u1", new { action = "vote", option = "A" }))).EnsureSuccessStatusCode();
                await Eventually.TrueAsync(async () => await TotalAsync(client) == "1", "the first vote reached the emulator");
            }

            Assert.True(File.Exists(Path.ChangeExtension(file, ".sandbox.json")), "the emulator's cards written beside the database");

            await using var second = SandboxModeGateway.Start(streamEnabled: false, file);
            using var again = Admin(second);
            Assert.Equal("1", await TotalAsync(again)); // taken back at startup, data and all
            (await again.SendAsync(CardClick.Create("kept-poll", "u2", new { action = "vote", option = "B" }))).EnsureSuccessStatusCode();
            await Eventually.TrueAsync(async () => await TotalAsync(again) == "2", "the vote after the restart reached the emulator");
            var stored = await HttpAssert.JsonAsync(await again.GetAsync("/api/cards/kept-poll"), HttpStatusCode.OK);
            Assert.Empty(stored.GetProperty("undelivered").EnumerateArray()); // nothing dead-lettered as param.cardNotExist
        }
        finally
        {
            SqliteFiles.Delete(file);
        }
    }

    [Theory]
    [InlineData("{\"cards\": [ {\"outTrackId\": 42 ")] // cut off, and a number for a string
    [InlineData("{}")] // valid JSON, missing what the file keeps
    [InlineData("{\"cards\": []}")]
    [InlineData("{\"cards\": [{\"outTrackId\": \"old-poll\"}], \"robotCards\": []}")]
    public async Task An_emulator_file_that_cannot_be_read_leaves_the_emulator_empty_and_the_gateway_working(string content)
    {
        var file = Path.Combine(Path.GetTempPath(), $"cg-sandbox-unreadable-{Guid.NewGuid():N}.db");
        await File.WriteAllTextAsync(Path.ChangeExtension(file, ".sandbox.json"), content);
        try
        {
            await using var gateway = SandboxModeGateway.Start(streamEnabled: false, file);
            using var client = Admin(gateway);
            (await client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = "fresh-poll", openConversationId = "cidSandbox==" }))
                .EnsureSuccessStatusCode();
            var cards = await HttpAssert.JsonAsync(await client.GetAsync("/sandbox/cards"), HttpStatusCode.OK);
            Assert.Equal(["fresh-poll"], cards.GetProperty("cards").EnumerateArray().Select(c => c.GetProperty("outTrackId").GetString()));
        }
        finally
        {
            SqliteFiles.Delete(file);
        }
    }

    private static HttpClient Admin(WebApplicationFactory<Program> gateway)
    {
        var client = gateway.CreateClient();
        client.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, ApiKeyAuthenticationHandler.SandboxKey);
        return client;
    }

    /// <summary>Everyone's <c>total</c> on the poll card as the emulated DingTalk shows it; null while it has none.</summary>
    private static async Task<string?> TotalAsync(HttpClient client)
    {
        var cards = await HttpAssert.JsonAsync(await client.GetAsync("/sandbox/cards"), HttpStatusCode.OK);
        return cards.GetProperty("cards").EnumerateArray()
            .Where(c => c.GetProperty("outTrackId").GetString() == "kept-poll")
            .Select(c => c.GetProperty("cardData").TryGetProperty("total", out var total) ? total.GetString() : null)
            .FirstOrDefault();
    }
}
