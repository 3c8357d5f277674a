using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Admin;

/// <summary>
/// <c>GET /api/cards</c>: an operator pages through the stored cards, and finds the ones with dead-lettered updates
/// (what <c>cardgateway.outbox.entries{status=dead}</c> counts) without knowing their ids — on both providers.
/// </summary>
public class CardListingTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>
{
    [Fact]
    public Task Cards_page_in_id_order_and_the_dead_lettered_ones_are_found_by_filter_on_SQLite() =>
        OnGatewayAsync([], "sqlite");

    [SkippableFact]
    public Task Cards_page_in_id_order_and_the_dead_lettered_ones_are_found_by_filter_on_PostgreSQL() =>
        PostgresServer.WithDatabaseAsync(connectionString => OnGatewayAsync(GatewayFactory.PostgresSettings(connectionString), "postgres"));

    [Fact]
    public async Task A_bad_limit_or_filter_is_a_400_naming_it()
    {
        using var api = fixture.Gateway.CreateAdminClient();

        var tooMany = await HttpAssert.ProblemAsync(await api.GetAsync("/api/cards?limit=501"), HttpStatusCode.BadRequest);
        var none = await HttpAssert.ProblemAsync(await api.GetAsync("/api/cards?limit=0"), HttpStatusCode.BadRequest);
        var notANumber = await HttpAssert.ProblemAsync(await api.GetAsync("/api/cards?limit=lots"), HttpStatusCode.BadRequest);
        var filter = await HttpAssert.ProblemAsync(await api.GetAsync("/api/cards?undelivered=sent"), HttpStatusCode.BadRequest);

        Assert.True(tooMany.GetProperty("errors").TryGetProperty("limit", out _));
        Assert.True(none.GetProperty("errors").TryGetProperty("limit", out _));
        Assert.Contains("limit", notANumber.GetRawText(), StringComparison.Ordinal);
        Assert.True(filter.GetProperty("errors").TryGetProperty("undelivered", out _));
        using var anonymous = fixture.Gateway.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/cards")).StatusCode);
    }

    private async Task OnGatewayAsync(Dictionary<string, string?> settings, string prefix)
    {
        await using var gateway = new GatewayFactory(fixture.DingTalk, settings);
        using var api = gateway.CreateAdminClient();
        string[] ids = [$"{prefix}-list-c", $"{prefix}-list-a", $"{prefix}-list-b"];
        foreach (var id in ids)
        {
            (await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.list", outTrackId = id, openConversationId = "cidList==" })).EnsureSuccessStatusCode();
        }

        // DingTalk refuses b's update for good: dead-lettered at once.
        fixture.DingTalk.State.DenyPermissionNext(HttpMethod.Put, "/v1.0/card/instances", ["Card.Instance.Write"], bodyContains: $"{prefix}-list-b");
        await HttpAssert.ProblemAsync(await api.PutAsJsonAsync($"/api/cards/{prefix}-list-b", new { cardData = new { n = 1 } }), HttpStatusCode.BadGateway);

        var first = await PageAsync(api, $"/api/cards?limit=2&after={prefix}-list");
        var second = await PageAsync(api, $"/api/cards?limit=2&after={Uri.EscapeDataString(first.GetProperty("next").GetString()!)}");
        var dead = await PageAsync(api, "/api/cards?undelivered=dead");

        Assert.Equal([$"{prefix}-list-a", $"{prefix}-list-b"], Ids(first));
        Assert.Equal($"{prefix}-list-b", first.GetProperty("next").GetString());
        Assert.Equal([$"{prefix}-list-c"], Ids(second).Where(id => id.StartsWith($"{prefix}-list", StringComparison.Ordinal)));
        var b = Assert.Single(dead.GetProperty("cards").EnumerateArray(), c => c.GetProperty("id").GetString() == $"{prefix}-list-b");
        Assert.Equal(1, b.GetProperty("deadUpdates").GetInt64());
        Assert.Equal("Advanced", b.GetProperty("kind").GetString());
        Assert.Equal("tpl.list", b.GetProperty("templateId").GetString());
        Assert.True(b.GetProperty("creationConfirmed").GetBoolean());
        Assert.DoesNotContain(Ids(dead), id => id == $"{prefix}-list-a" || id == $"{prefix}-list-c");
    }

    private static async Task<JsonElement> PageAsync(HttpClient api, string path) => await HttpAssert.JsonAsync(await api.GetAsync(path), HttpStatusCode.OK);

    private static string[] Ids(JsonElement page) => [.. page.GetProperty("cards").EnumerateArray().Select(c => c.GetProperty("id").GetString()!)];
}
