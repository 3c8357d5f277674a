using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.Sandbox;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Events;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// A Live gateway against <see cref="FakeDingTalk"/> whose typewriter asks <see cref="FakeOpenAi"/>
/// (<c>Gateway:Handlers:Llm</c>), with fast pacing; more settings and services as a test needs. Each test starts its own:
/// the model's key, time limit and the application's registrations are fixed at startup.
/// </summary>
public sealed class ModelGateway : IAsyncDisposable
{
    public const string Model = "qwen-test";
    public const string SystemPrompt = "You answer in one short paragraph.";

    private readonly GatewayFactory _factory;
    private readonly WebApplicationFactory<Program> _app;
    private readonly HttpClient _dingTalkClient;
    private readonly HttpClient _api;

    private ModelGateway(FakeDingTalk dingTalk, IReadOnlyDictionary<string, string?> settings, Action<IServiceCollection>? services)
    {
        DingTalk = dingTalk;
        _factory = new GatewayFactory(dingTalk, settings);
        _app = _factory.WithWebHostBuilder(builder => builder.ConfigureTestServices(s => services?.Invoke(s)));
        _dingTalkClient = _app.CreateClient();
        _api = _app.CreateClient();
        _api.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, GatewayFactory.AdminKey);
    }

    public FakeDingTalk DingTalk { get; }

    /// <summary>Every log event the gateway wrote, after secret masking.</summary>
    public IReadOnlyCollection<LogEvent> LogEvents => _factory.LogEvents;

    public string RenderedLogs() => _factory.RenderedLogs();

    public IServiceProvider Services => _app.Services;

    /// <summary>The settings pointing the typewriter at <paramref name="model"/>, with <paramref name="more"/> over them.</summary>
    public static Dictionary<string, string?> Settings(FakeOpenAi model, IReadOnlyDictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Handlers:StreamFrameInterval"] = "00:00:00.020",
            ["Gateway:Handlers:Llm:Endpoint"] = model.Endpoint.ToString(),
            ["Gateway:Handlers:Llm:ApiKey"] = FakeOpenAi.ApiKey,
            ["Gateway:Handlers:Llm:Model"] = Model,
            ["Gateway:Handlers:Llm:SystemPrompt"] = SystemPrompt,
        };
        foreach (var (key, value) in more ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>A started gateway with <paramref name="settings"/> and the application's own <paramref name="services"/>.</summary>
    public static ModelGateway Start(FakeDingTalk dingTalk, IReadOnlyDictionary<string, string?> settings, Action<IServiceCollection>? services = null)
    {
        return new ModelGateway(dingTalk, settings, services); // started by its first client: its hosted services have run
    }

    /// <summary>Sends an advanced assistant card and clicks "ask" on it with <paramref name="question"/>; returns its outTrackId.</summary>
    public async Task<string> AskAsync(string question)
    {
        var outTrackId = $"tpl.assistant-{Guid.NewGuid():N}";
        var sent = await _api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.assistant", outTrackId, openConversationId = "cidTest==", cardData = new { content = "" } });
        await HttpAssert.JsonAsync(sent, HttpStatusCode.Created);
        using var click = DingTalkCallback.Signed(DingTalkCallback.Body(outTrackId, "u1", new { action = "ask", question }), GatewayFactory.ApiSecret);
        var answer = await HttpAssert.JsonAsync(await _dingTalkClient.SendAsync(click), HttpStatusCode.OK);
        Assert.Equal("{}", answer.GetRawText());
        return outTrackId;
    }

    /// <summary>The card's streaming frames once the last (finalising) one has come.</summary>
    public async Task<IReadOnlyList<StreamingFrame>> FramesWhenFinalizedAsync(string outTrackId)
    {
        var card = await Eventually.ValueAsync(
            () => DingTalk.State.FindCard(outTrackId) is { } c && c.IsStreamingFinalized("content") ? c : null, "the final streaming frame");
        return card.StreamingFrames;
    }

    /// <summary>The first log event with <paramref name="eventId"/>, once there is one.</summary>
    public Task<LogEvent> LoggedAsync(int eventId) =>
        Eventually.ValueAsync(() => LogEvents.FirstOrDefault(e => CardCallbackEndpointTests.EventId(e) == eventId), $"event {eventId} logged");

    public async ValueTask DisposeAsync()
    {
        _dingTalkClient.Dispose();
        _api.Dispose();
        await _app.DisposeAsync();
        await _factory.DisposeAsync();
    }
}

/// <summary>One fake DingTalk and one fake model, shared by a test class; each test starts its own <see cref="ModelGateway"/>.</summary>
public sealed class ModelFixture : IAsyncLifetime
{
    public FakeDingTalk DingTalk { get; private set; } = null!;

    public FakeOpenAi Model { get; private set; } = null!;

    public ModelGateway Start(IReadOnlyDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null) =>
        ModelGateway.Start(DingTalk, ModelGateway.Settings(Model, settings), services);

    public async Task InitializeAsync()
    {
        DingTalk = await FakeDingTalk.StartAsync();
        Model = await FakeOpenAi.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await Model.DisposeAsync();
        await DingTalk.DisposeAsync();
    }
}
