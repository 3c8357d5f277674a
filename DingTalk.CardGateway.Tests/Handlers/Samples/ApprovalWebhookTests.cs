using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Handlers.Effects;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Handlers.Samples;

/// <summary>
/// The README's webhook sample (<see cref="ApprovalWebhook"/>) in the real pipeline, Sandbox mode, against a webhook
/// receiver of the test's own that answers each post as the test says.
/// </summary>
public sealed class ApprovalWebhookTests : IAsyncLifetime
{
    private readonly ConcurrentQueue<(string Key, JsonElement Body)> _posts = new();
    private readonly ConcurrentQueue<int> _answers = new();
    private WebApplication _webhook = null!;
    private WebApplicationFactory<Program> _gateway = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _webhook = LoopbackApp.CreateBuilder().Build();
        _webhook.MapPost("/approvals", async (HttpRequest request) =>
        {
            _posts.Enqueue((request.Headers["Idempotency-Key"].ToString(), await request.ReadFromJsonAsync<JsonElement>()));
            return Results.StatusCode(_answers.TryDequeue(out var status) ? status : 200);
        });
        await _webhook.StartAsync();
        var webhookAddress = new Uri(LoopbackApp.Address(_webhook) + "/");

        _gateway = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseSetting("Gateway:Storage:ConnectionString", "Data Source=:memory:");
            b.UseSetting("Gateway:Outbox:RetryBaseDelay", "00:00:00.050");
            b.ConfigureServices(s =>
            {
                s.AddHttpClient("approvals-webhook", c => c.BaseAddress = webhookAddress);
                s.AddCardEffect<ApprovalWebhook, ApprovalDecided>();
                s.AddCardActionHandler<MyApprovalHandler>(on => on.Template("tpl.approval").Action("approve", "reject"));
            });
        });
        _gateway.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        _gateway.StartServer();
        _client = _gateway.CreateClient();
        _client.DefaultRequestHeaders.Add("X-Api-Key", "sandbox");
        (await _client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.approval", outTrackId = "leave-1", openConversationId = "cidTest==" }))
            .EnsureSuccessStatusCode();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _gateway.DisposeAsync();
        await _webhook.DisposeAsync();
    }

    [Fact]
    public async Task An_approval_decided_posts_to_the_webhook_after_the_commit_with_one_key_across_retries()
    {
        _answers.Enqueue(503); // the webhook is down for the first post

        (await _client.SendAsync(CardClick.Create("leave-1", "manager1", new { action = "approve" }))).EnsureSuccessStatusCode();

        await SandboxCards.WaitForAsync(_client, "leave-1", card => card.GetValueOrDefault("status") == "approved");
        await Callbacks.Eventually.TrueAsync(() => _posts.Count == 2, "the post, retried once");
        var posts = _posts.ToList();
        Assert.Single(posts.Select(p => p.Key).Distinct());
        Assert.EndsWith(":0", posts[0].Key, StringComparison.Ordinal);
        Assert.All(posts, p => Assert.Equal(("leave-1", "approved", "manager1"), (p.Body.GetProperty("cardId").GetString(), p.Body.GetProperty("decision").GetString(), p.Body.GetProperty("decidedBy").GetString())));
        await Callbacks.Eventually.TrueAsync(async () => (await EffectsAsync()).GetArrayLength() == 0, "the effect done (no longer listed)");
    }

    [Fact]
    public async Task A_webhook_refusing_the_post_for_good_leaves_the_effect_dead_and_shown()
    {
        _answers.Enqueue(422);

        (await _client.SendAsync(CardClick.Create("leave-1", "manager1", new { action = "reject" }))).EnsureSuccessStatusCode();

        await Callbacks.Eventually.TrueAsync(async () => (await EffectsAsync()) is { ValueKind: JsonValueKind.Array } e && e.GetArrayLength() == 1 && e[0].GetProperty("status").GetString() == "Dead", "the effect dead");
        var dead = (await EffectsAsync())[0];
        Assert.Equal("ApprovalWebhook", dead.GetProperty("effect").GetString());
        Assert.Equal(1, dead.GetProperty("attempts").GetInt32());
        Assert.Contains("the webhook refused it: 422", dead.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.Single(_posts);
    }

    private async Task<JsonElement> EffectsAsync() =>
        (await _client.GetFromJsonAsync<JsonElement>("/api/cards/leave-1")).GetProperty("effects");
}
