using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// One fake DingTalk and one gateway against it, with fast typewriter pacing and five test handlers
/// (<c>explode</c>, <c>slow</c>, <c>type</c>, <c>unwritable</c>, <c>count</c>), shared by the callback and handler tests. Each test uses its own card ids.
/// </summary>
public sealed class CallbackGateway : IAsyncLifetime
{
    public static readonly IReadOnlyDictionary<string, string?> Settings = new Dictionary<string, string?>
    {
        ["Gateway:Handlers:StreamFrameInterval"] = "00:00:00.020",
        ["Gateway:Handlers:EchoWordDelay"] = "00:00:00.002",
    };

    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly FakeDingTalk? _shared;
    private readonly Action<IServiceCollection>? _services;
    private GatewayFactory _factory = null!;

    public CallbackGateway()
        : this(Settings)
    {
    }

    private CallbackGateway(IReadOnlyDictionary<string, string?> settings, FakeDingTalk? shared = null, Action<IServiceCollection>? services = null)
    {
        _settings = settings;
        _shared = shared;
        _services = services;
    }

    /// <summary>
    /// The same gateway with more settings (another storage, say; ones given here win) and, registered last, the test's own
    /// <paramref name="services"/> (a store wrapped to see a call, say); the caller initializes and disposes it.
    /// </summary>
    public static CallbackGateway With(IReadOnlyDictionary<string, string?> more, Action<IServiceCollection>? services = null) =>
        new(Settings.Where(s => !more.ContainsKey(s.Key)).Concat(more).ToDictionary(p => p.Key, p => p.Value), services: services);

    /// <summary>
    /// A second replica of <paramref name="first"/>: the same settings and the same fake DingTalk (left running when this
    /// one is disposed), so on one PostgreSQL the two behave as one gateway; the caller initializes and disposes it.
    /// </summary>
    public static CallbackGateway ReplicaOf(CallbackGateway first) => new(first._settings, first.DingTalk, first._services);

    /// <summary>Runs <paramref name="test"/> on a gateway of its own with <paramref name="more"/> settings (<see cref="With"/>), then disposes it.</summary>
    public static async Task RunAsync(IReadOnlyDictionary<string, string?> more, Func<CallbackGateway, Task> test)
    {
        var gateway = With(more);
        await gateway.InitializeAsync();
        try
        {
            await test(gateway);
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    public FakeDingTalk DingTalk { get; private set; } = null!;

    /// <summary>The gateway with the test handlers; its logs are captured by <see cref="Logs"/>.</summary>
    public WebApplicationFactory<Program> App { get; private set; } = null!;

    public GatewayFactory Logs => _factory;

    /// <summary>What DingTalk's servers would use: no admin key.</summary>
    public HttpClient DingTalkClient { get; private set; } = null!;

    public HttpClient Api { get; private set; } = null!;

    public HandlerGate Gate => App.Services.GetRequiredService<HandlerGate>();

    public TypedText TypedText => App.Services.GetRequiredService<TypedText>();

    public async Task InitializeAsync()
    {
        DingTalk = _shared ?? await FakeDingTalk.StartAsync();
        _factory = new GatewayFactory(DingTalk, _settings);
        App = _factory.WithWebHostBuilder(builder => builder.ConfigureServices(services =>
        {
            services.AddSingleton<HandlerGate>();
            services.AddCardActionHandler<ThrowingHandler>(on => on.Action("explode"));
            services.AddCardActionHandler<GatedHandler>(on => on.Action("slow"));
            services.AddSingleton<TypedText>();
            services.AddCardActionHandler<TypedTextHandler>(on => on.Action("type"));
            services.AddCardActionHandler<UnwritableResultHandler>(on => on.Action("unwritable"));
            services.AddCardActionHandler<CountingStateHandler>(on => on.Action("count"));
            services.AddCardActionHandler<ScriptedHandler>(on => on.Action("script"));
            _services?.Invoke(services);
        }));
        DingTalkClient = App.CreateClient();
        Api = App.CreateClient();
        Api.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, GatewayFactory.AdminKey);
    }

    public async Task DisposeAsync()
    {
        DingTalkClient.Dispose();
        Api.Dispose();
        await App.DisposeAsync();
        await _factory.DisposeAsync();
        if (_shared is null)
        {
            await DingTalk.DisposeAsync();
        }
    }

    /// <summary>Sends an advanced card to a group through <c>POST /api/cards</c>, as an operator would; returns its outTrackId.</summary>
    public async Task<string> SendCardAsync(string template, object? cardData = null)
    {
        var outTrackId = $"{template}-{Guid.NewGuid():N}";
        var response = await Api.PostAsJsonAsync("/api/cards", new { cardTemplateId = template, outTrackId, openConversationId = "cidTest==", cardData = cardData ?? new { } });
        await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        return outTrackId;
    }

    /// <summary>Sends a normal robot card through <c>POST /api/robot-cards</c>; returns its cardBizId and the callback path minted into it.</summary>
    public async Task<(string CardBizId, string CallbackPath)> SendRobotCardAsync(object cardData, string? cardBizId = null)
    {
        cardBizId ??= $"robot-{Guid.NewGuid():N}";
        var response = await Api.PostAsJsonAsync("/api/robot-cards", new { cardBizId, openConversationId = "cidTest==", cardData });
        await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        var callbackUrl = new Uri(DingTalk.State.FindRobotCard(cardBizId)!.CallbackUrl!);
        return (cardBizId, callbackUrl.AbsolutePath);
    }

    /// <summary>The callbacks the gateway recorded for <paramref name="card"/>, as <c>GET /api/cards/{id}</c> lists them.</summary>
    public async Task<IReadOnlyList<CallbackRecord>> HistoryAsync(string card)
    {
        await using var scope = App.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ICallbackStore>().ForCardAsync(card, CancellationToken.None);
    }

    /// <summary>A user's click as DingTalk would post it, signed; the answer must be 200 JSON.</summary>
    public async Task<JsonElement> ClickAsync(string outTrackId, string userId, object parameters)
    {
        using var request = DingTalkCallback.Signed(DingTalkCallback.Body(outTrackId, userId, parameters), GatewayFactory.ApiSecret);
        return await HttpAssert.JsonAsync(await DingTalkClient.SendAsync(request), HttpStatusCode.OK);
    }
}
