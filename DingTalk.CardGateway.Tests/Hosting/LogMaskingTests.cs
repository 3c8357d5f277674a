using System.Net;
using System.Net.Http.Json;
using System.Text;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.Configuration;
using Serilog.Events;
using Serilog.Parsing;

namespace DingTalk.CardGateway.Tests.Hosting;

public class LogMaskingTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>
{
    [Fact]
    public async Task No_secret_or_token_reaches_the_log_during_a_busy_session()
    {
        using var api = fixture.Gateway.CreateAdminClient();
        using var stranger = fixture.Gateway.CreateClient();
        stranger.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, GatewayFactory.AdminKey[..^1]);

        await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "mask-1", openConversationId = "cidM==", cardData = new { a = 1 } });
        fixture.DingTalk.State.ExpireAllTokens();
        await api.PutAsJsonAsync("/api/cards/mask-1", new { cardData = new { a = 2 } });
        await api.PutAsJsonAsync("/api/cards/ghost", new { cardData = new { a = 2 } });
        await api.PostAsJsonAsync("/api/robot-cards", new { cardBizId = "mask-r", userId = "u1", cardData = new { contents = Array.Empty<object>() } });
        await stranger.GetAsync("/api/cards/mask-1");
        await api.GetAsync($"/api/cards/{GatewayFactory.ApiSecret}");

        var tokens = fixture.DingTalk.State.Requests.Select(r => r.AccessToken).OfType<string>().Distinct().ToList();
        Assert.NotEmpty(tokens);
        var logs = fixture.Gateway.RenderedLogs();
        Assert.Contains("mask-1", logs, StringComparison.Ordinal); // the log did record this session
        string[] secrets = [fixture.DingTalk.Options.AppSecret, GatewayFactory.ApiSecret, GatewayFactory.AdminKey, .. tokens];
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// What an operator turns on to chase a problem: every category at its most verbose, the framework's request logs
    /// (hosting, routing, HttpClient, Polly) included. A robot card's callback path carries its token, DingTalk's calls
    /// carry the access token, the admin key arrives in a header, and PostgreSQL's connection string holds its password:
    /// none may be written.
    /// </summary>
    [SkippableTheory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task No_secret_or_token_reaches_the_log_with_every_category_at_its_most_verbose(string storage)
    {
        var database = storage == "Postgres" ? await PostgresServer.CreateDatabaseAsync() : null;
        Skip.If(storage == "Postgres" && database is null, PostgresServer.SkipReason);
        try
        {
            await VerboseSessionAsync(database);
        }
        finally
        {
            await PostgresServer.DropDatabaseAsync(database);
        }
    }

    /// <summary>Every category at Verbose, the framework's, the HTTP client's and Polly's included: what an operator chasing a problem turns on.</summary>
    internal static readonly IReadOnlyDictionary<string, string?> EveryCategoryVerbose = new Dictionary<string, string?>
    {
        ["Serilog:MinimumLevel:Default"] = "Verbose",
        ["Serilog:MinimumLevel:Override:Microsoft"] = "Verbose",
        ["Serilog:MinimumLevel:Override:Microsoft.AspNetCore"] = "Verbose",
        ["Serilog:MinimumLevel:Override:Microsoft.AspNetCore.Hosting.Diagnostics"] = "Verbose",
        ["Serilog:MinimumLevel:Override:System.Net.Http.HttpClient"] = "Verbose",
        ["Serilog:MinimumLevel:Override:Polly"] = "Verbose",
    };

    private static async Task VerboseSessionAsync(string? postgres)
    {
        await using var dingTalk = await FakeDingTalk.StartAsync();
        var settings = postgres is null ? new Dictionary<string, string?>(EveryCategoryVerbose) : GatewayFactory.PostgresSettings(postgres, EveryCategoryVerbose);

        await using var gateway = new GatewayFactory(dingTalk, settings);
        using var api = gateway.CreateAdminClient();
        using var dingTalkServer = gateway.CreateClient();

        await HttpAssert.JsonAsync(
            await api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl", outTrackId = "verbose-1", openConversationId = "cidM==", cardData = new { a = 1 } }),
            HttpStatusCode.Created);
        dingTalk.State.ExpireAllTokens();
        await api.PutAsJsonAsync("/api/cards/verbose-1", new { cardData = new { a = 2 } });
        await HttpAssert.JsonAsync(
            await api.PostAsJsonAsync("/api/robot-cards", new { cardBizId = "verbose-r", userId = "u1", cardData = new { contents = Array.Empty<object>() } }),
            HttpStatusCode.Created);
        var callbackPath = new Uri(dingTalk.State.FindRobotCard("verbose-r")!.CallbackUrl!).AbsolutePath;
        var robotToken = callbackPath[RobotCardCallbackToken.RoutePrefix.Length..];
        await HttpAssert.JsonAsync(
            await dingTalkServer.SendAsync(DingTalkCallback.Post(callbackPath, Encoding.UTF8.GetBytes(DingTalkCallback.RobotBody("verbose-r", "u1", new { action = "approve" })))),
            HttpStatusCode.OK);
        await dingTalkServer.SendAsync(DingTalkCallback.Post(callbackPath, Encoding.UTF8.GetBytes("{not json")));
        await dingTalkServer.SendAsync(DingTalkCallback.Post(callbackPath + "?x=1", Encoding.UTF8.GetBytes(DingTalkCallback.RobotBody("verbose-other", "u1", new { action = "approve" }))));

        using var stranger = gateway.CreateClient();
        stranger.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, GatewayFactory.AdminKey[..^1]);
        await stranger.GetAsync("/api/cards/verbose-1");

        // What follows the answers too: the approval's update for everyone, and the request logs written as responses end.
        await Eventually.TrueAsync(() => dingTalk.State.FindRobotCard("verbose-r") is { UpdateCount: > 0 }, "the robot card's update for everyone");
        await Eventually.TrueAsync(
            () => gateway.LogEvents.Count(e => e.Properties.TryGetValue("RequestPath", out var path) && path.ToString().Contains("/robot-card/", StringComparison.Ordinal)
                && e.MessageTemplate.Text.StartsWith("HTTP {RequestMethod}", StringComparison.Ordinal)) == 3,
            "the three robot-card callbacks' request logs");
        var tokens = dingTalk.State.Requests.Select(r => r.AccessToken).OfType<string>().Distinct().ToList();
        Assert.NotEmpty(tokens);
        var logs = gateway.RenderedLogs();
        Assert.Contains("Request starting", logs, StringComparison.Ordinal); // the framework's request logs are in
        Assert.Contains("Sending HTTP request", logs, StringComparison.Ordinal); // and HttpClient's
        string[] secrets =
        [
            dingTalk.Options.AppSecret, GatewayFactory.ApiSecret, GatewayFactory.AdminKey[..^1], robotToken, .. tokens,
            .. postgres is null ? [] : new[] { new Npgsql.NpgsqlConnectionStringBuilder(postgres).Password! },
        ];
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_secret_in_any_property_shape_is_masked()
    {
        var masker = new SecretMasker(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DingTalk:AppSecret"] = "app-secret-123",
            ["DingTalk:Callback:ApiSecret"] = "api-secret-456",
            ["Gateway:AdminApiKeys:0"] = "admin-key-789",
            ["DingTalk:Callback:PreviousApiSecrets:0"] = "previous-api-secret-1",
            ["DingTalk:Callback:PreviousApiSecrets:1"] = "previous-api-secret-2",
        }).Build());
        masker.Add("access-token-abc");
        var enricher = new SecretMaskingEnricher(masker);
        var logEvent = new LogEvent(
            DateTimeOffset.UtcNow,
            LogEventLevel.Information,
            null,
            new MessageTemplateParser().Parse("{A} {B} {C} {D} {E} {F}"),
            [
                new LogEventProperty("A", new ScalarValue("secret=app-secret-123;")),
                new LogEventProperty("B", new SequenceValue([new ScalarValue("api-secret-456")])),
                new LogEventProperty("C", new StructureValue([new LogEventProperty("key", new ScalarValue("admin-key-789"))])),
                new LogEventProperty("D", new ScalarValue(new Uri("https://x.test/?t=access-token-abc"))),
                new LogEventProperty("E", new ScalarValue("/dingtalk/callbacks/robot-card/AbCdEfGh12345678")),
                new LogEventProperty("F", new SequenceValue([new ScalarValue("was previous-api-secret-1"), new ScalarValue("previous-api-secret-2")])),
            ]);

        enricher.Enrich(logEvent, null!);

        var rendered = logEvent.RenderMessage() + string.Join(' ', logEvent.Properties.Values);
        Assert.DoesNotContain("app-secret-123", rendered, StringComparison.Ordinal);
        Assert.DoesNotContain("api-secret-456", rendered, StringComparison.Ordinal);
        Assert.DoesNotContain("admin-key-789", rendered, StringComparison.Ordinal);
        Assert.DoesNotContain("access-token-abc", rendered, StringComparison.Ordinal);
        Assert.DoesNotContain("AbCdEfGh12345678", rendered, StringComparison.Ordinal);
        Assert.DoesNotContain("previous-api-secret", rendered, StringComparison.Ordinal);
        Assert.Contains(SecretMasker.Mask, rendered, StringComparison.Ordinal);
    }
}
