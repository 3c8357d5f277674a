using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Handlers.Effects;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace DingTalk.CardGateway.Tests.Handlers.Effects;

/// <summary>
/// A Live gateway against a fake DingTalk, on the database given, with <see cref="EffectHandler"/> (<c>effect</c>) and
/// <see cref="CountingStateHandler"/> (<c>count</c>), and <see cref="RecordingEffect"/> registered. The effect's runs and
/// gates may be shared by several gateways on one database (replicas, or one process after another).
/// </summary>
public sealed class EffectGateway : IAsyncDisposable
{
    private readonly GatewayFactory _factory;
    private bool _ownsDingTalk;
    private bool _disposed;

    private EffectGateway(FakeDingTalk dingTalk, GatewayFactory factory, WebApplicationFactory<Program> app)
    {
        DingTalk = dingTalk;
        _factory = factory;
        App = app;
        Api = app.CreateClient();
        Api.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, GatewayFactory.AdminKey);
        DingTalkClient = app.CreateClient();
    }

    public FakeDingTalk DingTalk { get; }

    public WebApplicationFactory<Program> App { get; }

    public GatewayFactory Logs => _factory;

    public HttpClient Api { get; }

    public HttpClient DingTalkClient { get; }

    /// <summary>Fast retries, so the tests' retries and give-ups come within a few seconds.</summary>
    public static readonly IReadOnlyDictionary<string, string?> Fast = new Dictionary<string, string?>
    {
        ["Gateway:Outbox:RetryBaseDelay"] = "00:00:00.050",
        ["Gateway:Outbox:RetryMaxDelay"] = "00:00:00.200",
    };

    /// <summary>The storage settings of <paramref name="provider"/> on <paramref name="connectionString"/>.</summary>
    public static Dictionary<string, string?> Storage(string provider, string connectionString) => new()
    {
        ["Gateway:Storage:Provider"] = provider,
        ["Gateway:Storage:ConnectionString"] = connectionString,
    };

    public static async Task<EffectGateway> StartAsync(
        IReadOnlyDictionary<string, string?> settings, EffectRuns runs, HandlerGate gate, FakeDingTalk? dingTalk = null)
    {
        var ownsDingTalk = dingTalk is null;
        dingTalk ??= await FakeDingTalk.StartAsync();
        var all = new Dictionary<string, string?>(Fast);
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        var factory = new GatewayFactory(dingTalk, all);
        var app = factory.WithWebHostBuilder(builder => builder.ConfigureServices(services =>
        {
            services.AddSingleton(runs);
            services.AddSingleton(gate);
            services.AddCardActionHandler<EffectHandler>(on => on.Action("effect"));
            services.AddCardActionHandler<CountingStateHandler>(on => on.Action("count"));
            services.AddCardEffect<RecordingEffect, EffectNote>();
        }));
        var gateway = new EffectGateway(dingTalk, factory, app) { _ownsDingTalk = ownsDingTalk };
        _ = app.Server; // started now: its dispatchers run from here
        return gateway;
    }

    /// <summary>Sends an advanced card through <c>POST /api/cards</c>; returns its outTrackId.</summary>
    public async Task<string> SendCardAsync(string template = "tpl.effect", string? outTrackId = null)
    {
        outTrackId ??= $"{template}-{Guid.NewGuid():N}";
        var response = await Api.PostAsJsonAsync("/api/cards", new { cardTemplateId = template, outTrackId, openConversationId = "cidTest==", cardData = new { } });
        await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        return outTrackId;
    }

    /// <summary>A click signed at <paramref name="signedAt"/> (now by default: the same moment twice is one click delivered twice).</summary>
    public Task<HttpResponseMessage> PostClickAsync(string outTrackId, string userId, object parameters, DateTimeOffset? signedAt = null) =>
        DingTalkClient.SendAsync(DingTalkCallback.Signed(DingTalkCallback.Body(outTrackId, userId, parameters), GatewayFactory.ApiSecret, signedAt));

    public async Task<JsonElement> ClickAsync(string outTrackId, string userId, object parameters, DateTimeOffset? signedAt = null) =>
        await HttpAssert.JsonAsync(await PostClickAsync(outTrackId, userId, parameters, signedAt), HttpStatusCode.OK);

    /// <summary>The callbacks recorded for <paramref name="card"/>.</summary>
    public async Task<IReadOnlyList<CallbackRecord>> HistoryAsync(string card)
    {
        await using var scope = App.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ICallbackStore>().ForCardAsync(card, CancellationToken.None);
    }

    /// <summary><c>GET /api/cards/{card}</c>'s <c>effects</c>.</summary>
    public async Task<JsonElement> EffectsShownAsync(string card)
    {
        var state = await HttpAssert.JsonAsync(await Api.GetAsync($"/api/cards/{card}"), HttpStatusCode.OK);
        return state.GetProperty("effects");
    }

    /// <summary>Runs the retention purge as it would run eight days from now (past the default 7-day retention).</summary>
    public Task PurgeEightDaysOnAsync()
    {
        var services = App.Services;
        return new RetentionService(
            services.GetRequiredService<GatewayDatabase>(),
            services.GetRequiredService<SqliteWriteBatcher>(),
            services.GetRequiredService<IOptionsMonitor<GatewayOptions>>(),
            new FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(8)),
            NullLogger<RetentionService>.Instance).PurgeAsync(default);
    }

    /// <summary>Stops the gateway (a test may stop it before the end of its <c>using</c>: then once).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Api.Dispose();
        DingTalkClient.Dispose();
        await App.DisposeAsync();
        await _factory.DisposeAsync();
        if (_ownsDingTalk)
        {
            await DingTalk.DisposeAsync();
        }
    }
}
