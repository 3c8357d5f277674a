using System.Net;
using System.Net.Http.Json;
using System.Text;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// The gateway as a real process at its most verbose, through everything that handles a secret: the token call, a card
/// send, DingTalk errors that echo the access token, the callback registration with the apiSecret, callbacks, admin calls
/// with a wrong and a right key, readiness. Every byte it wrote (console, every level, exceptions) and every answer it
/// gave is searched for every secret's value.
/// </summary>
public sealed class SecretExposureTests : IAsyncLifetime
{
    /// <summary>A secret from before the last rotation, still accepted: as secret as the current one.</summary>
    private const string PreviousApiSecret = "previous-api-secret-0123456789";

    private FakeDingTalk _dingTalk = null!;

    public async Task InitializeAsync() => _dingTalk = await FakeDingTalk.StartAsync();

    public async Task DisposeAsync() => await _dingTalk.DisposeAsync();

    [Fact]
    public async Task No_secret_reaches_the_output_or_an_answer_of_a_gateway_process_at_trace_level()
    {
        var database = Path.Combine(Path.GetTempPath(), $"cg-secrets-{Guid.NewGuid():N}.db");
        var answers = new StringBuilder();
        string output;
        try
        {
            await using (var gateway = await GatewayProcess.StartAsync(_dingTalk, TraceSettings(database)))
            {
                using var api = gateway.CreateAdminClient();
                using var dingTalkSide = gateway.CreateClient();
                using var stranger = gateway.CreateClient();
                stranger.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, GatewayFactory.AdminKey[..^1]);
                async Task<HttpStatusCode> KeepAsync(Task<HttpResponseMessage> call)
                {
                    using var response = await call;
                    answers.AppendLine(await response.Content.ReadAsStringAsync());
                    return response.StatusCode;
                }

                await Eventually.TrueAsync(() => _dingTalk.State.Callbacks.ContainsKey("test-route"), "the callback registration, with the apiSecret");

                // The token call, then a card.
                Assert.Equal(HttpStatusCode.Created, await KeepAsync(api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = "secret-1", openConversationId = "cidS==", cardData = new { title = "t" } })));
                var token = _dingTalk.State.Requests.Select(r => r.AccessToken).OfType<string>().First();

                // DingTalk errors that echo the token: refused for good (answered to the caller), expired (refreshed), and on an update for everyone.
                _dingTalk.State.FailNext(HttpMethod.Post, "/v1.0/card/instances/createAndDeliver", 400, "param.templateNotExist", $"template not found for token {token}");
                Assert.Equal(HttpStatusCode.UnprocessableEntity, await KeepAsync(api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.gone", outTrackId = "secret-2", openConversationId = "cidS==", cardData = new { title = "t" } })));
                _dingTalk.State.ExpireAllTokens();
                _dingTalk.State.FailNext(HttpMethod.Put, "/v1.0/card/instances", 400, "InvalidAuthentication", $"the access token {token} is invalid");
                await KeepAsync(api.PutAsJsonAsync("/api/cards/secret-1", new { cardData = new { title = "u" } }));
                var tokens = _dingTalk.State.Requests.Select(r => r.AccessToken).OfType<string>().Distinct().ToList();
                _dingTalk.State.FailNext(HttpMethod.Put, "/v1.0/card/instances", 400, "param.cardNotExist", $"no card for token {tokens[^1]}");
                await KeepAsync(api.PutAsJsonAsync("/api/cards/secret-1", new { cardData = new { title = "v" } }));
                await KeepAsync(api.GetAsync("/api/cards/secret-1"));

                // A token call refused with a message that echoes the AppSecret: readiness says why.
                _dingTalk.State.FailNext(HttpMethod.Post, "/v1.0/oauth2/accessToken", 400, "invalidClientIdOrSecret", $"no app has the secret {_dingTalk.Options.AppSecret}", times: 5);
                _dingTalk.State.ExpireAllTokens();
                await KeepAsync(api.PutAsJsonAsync("/api/cards/secret-1", new { cardData = new { title = "w" } }));
                await KeepAsync(api.GetAsync("/health/ready"));
                _dingTalk.State.ClearFaults();

                // Callbacks: signed right, signed with another secret.
                await KeepAsync(dingTalkSide.SendAsync(DingTalkCallback.Signed(DingTalkCallback.Body("secret-1", "u1", new { action = "vote", option = "a" }), GatewayFactory.ApiSecret)));
                await KeepAsync(dingTalkSide.SendAsync(DingTalkCallback.Signed(DingTalkCallback.Body("secret-1", "u2", new { action = "vote", option = "a" }), "not-the-api-secret")));
                Assert.Equal(HttpStatusCode.OK, await KeepAsync(dingTalkSide.SendAsync(DingTalkCallback.Signed(DingTalkCallback.Body("secret-1", "u3", new { action = "vote", option = "a" }), PreviousApiSecret))));

                // Admin calls with a wrong key and the right one; readiness.
                Assert.Equal(HttpStatusCode.Unauthorized, await KeepAsync(stranger.GetAsync("/api/cards/secret-1")));
                Assert.Equal(HttpStatusCode.OK, await KeepAsync(api.GetAsync("/api/cards/secret-1")));
                await KeepAsync(api.GetAsync("/health/ready"));
                await KeepAsync(api.GetAsync("/health/live"));

                await Eventually.TrueAsync(() => gateway.Output.Contains("/health/live", StringComparison.Ordinal), "the last request's log");
                output = gateway.Output;
            }
        }
        finally
        {
            SqliteFiles.Delete(database);
        }

        Assert.Contains("Sending HTTP request", output, StringComparison.Ordinal); // HttpClient's own logs are in
        Assert.Contains("param.templateNotExist", answers.ToString(), StringComparison.Ordinal); // DingTalk's refusal reached the caller
        Assert.Contains("invalidClientIdOrSecret", answers.ToString(), StringComparison.Ordinal); // and readiness
        var allTokens = _dingTalk.State.Requests.Select(r => r.AccessToken).OfType<string>().Distinct().ToList();
        Assert.True(allTokens.Count >= 2, "the expired token was replaced");
        string[] secrets = [_dingTalk.Options.AppSecret, GatewayFactory.ApiSecret, PreviousApiSecret, GatewayFactory.AdminKey, GatewayFactory.AdminKey[..^1], .. allTokens];
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, output, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, answers.ToString(), StringComparison.Ordinal);
        }
    }

    private static Dictionary<string, string?> TraceSettings(string database) => new(LogMaskingTests.EveryCategoryVerbose)
    {
        ["Gateway:Storage:Provider"] = "Sqlite",
        ["Gateway:Storage:ConnectionString"] = $"Data Source={database}",
        ["DingTalk:Callback:RegisterOnStartup"] = "true",
        ["DingTalk:Callback:PreviousApiSecrets:0"] = PreviousApiSecret,
        ["Logging:LogLevel:Default"] = "Trace",
    };
}
