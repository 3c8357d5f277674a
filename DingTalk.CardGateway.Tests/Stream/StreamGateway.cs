using System.Net;
using System.Net.Http.Json;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Stream;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.Sandbox.Stream;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>
/// The gateway in Stream mode against the fake DingTalk on a real loopback socket: the fake pings often and pushes
/// unanswered frames again after a second; the gateway backs off briefly and calls a connection silent after 3 s
/// without a frame. Shared by the Stream test classes (they run one after another); each test uses its own cards.
/// </summary>
public sealed class StreamGateway : IAsyncLifetime
{
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(3);

    /// <summary>Generous: the tests wait for conditions, never for time.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly string _database = Path.Combine(Path.GetTempPath(), $"cardgateway-stream-tests-{Guid.NewGuid():N}.db");
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private GatewayFactory _factory = null!;

    public StreamGateway()
        : this(new Dictionary<string, string?>())
    {
    }

    private StreamGateway(IReadOnlyDictionary<string, string?> settings) => _settings = settings;

    public FakeDingTalk DingTalk { get; private set; } = null!;

    public SandboxStream Stream => DingTalk.State.Stream;

    public WebApplicationFactory<Program> App { get; private set; } = null!;

    public GatewayFactory Logs => _factory;

    /// <summary>The admin API, with its key.</summary>
    public HttpClient Api { get; private set; } = null!;

    public HandlerInvocations Invocations => App.Services.GetRequiredService<HandlerInvocations>();

    /// <summary>The test's hand on <see cref="GatedHandler"/> (<c>params.action = "slow"</c>).</summary>
    public HandlerGate Gate => App.Services.GetRequiredService<HandlerGate>();

    public StreamConnectionStatus Status => App.Services.GetRequiredService<StreamConnectionStatus>();

    public async Task InitializeAsync()
    {
        DingTalk = await FakeDingTalk.StartAsync();
        Stream.PingInterval = TimeSpan.FromMilliseconds(300);
        Stream.RedeliveryDelay = TimeSpan.FromSeconds(1);
        var settings = new Dictionary<string, string?>
        {
            ["DingTalk:Stream:Enabled"] = "true",
            ["DingTalk:Stream:IdleTimeout"] = IdleTimeout.ToString(),
            ["DingTalk:Stream:BackoffMin"] = "00:00:00.100",
            ["DingTalk:Stream:BackoffMax"] = "00:00:01",
            ["DingTalk:Callback:PublicBaseUrl"] = "",
            ["Gateway:Storage:ConnectionString"] = $"Data Source={_database}",
        };
        foreach (var (key, value) in _settings)
        {
            settings[key] = value;
        }

        _factory = new GatewayFactory(DingTalk, settings);
        App = _factory.WithWebHostBuilder(builder => builder.ConfigureServices(services =>
        {
            services.AddSingleton<HandlerInvocations>();
            services.AddCardActionHandler<CountingHandler>(on => on.Action(CountingHandler.Action));
            services.AddCardActionHandler<SurveyHandler>(on => on.Action(SurveyHandler.Action));
            services.AddSingleton<HandlerGate>();
            services.AddCardActionHandler<GatedHandler>(on => on.Action("slow"));
        }));
        Api = App.CreateClient(); // starts the host, and with it the Stream connection
        Api.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, GatewayFactory.AdminKey);
        await OpenConnectionAsync();
    }

    /// <summary>A gateway of its own, with other settings, for one test; the test disposes it.</summary>
    public static async Task<StreamGateway> StartAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var gateway = new StreamGateway(settings ?? new Dictionary<string, string?>());
        await gateway.InitializeAsync();
        return gateway;
    }

    public async Task DisposeAsync()
    {
        Api.Dispose();
        await App.DisposeAsync();
        await _factory.DisposeAsync();
        await DingTalk.DisposeAsync();
        foreach (var file in Directory.GetFiles(Path.GetTempPath(), Path.GetFileName(_database) + "*"))
        {
            File.Delete(file);
        }
    }

    /// <summary>An open connection from the gateway that is not <paramref name="other"/> (or any open one).</summary>
    public async Task<SandboxStreamConnection> OpenConnectionAsync(SandboxStreamConnection? other = null)
    {
        using var patience = new CancellationTokenSource(Patience);
        return await Stream.WaitForConnectionAsync(c => c.IsOpen && !c.IsSilent && !c.IsGoingAway && c.Id > (other?.Id ?? 0), patience.Token);
    }

    /// <summary>An advanced card sent to a group through <c>POST /api/cards</c>, as an operator would; returns its outTrackId.</summary>
    public async Task<string> SendCardAsync(string template, object? cardData = null, string? callbackType = null)
    {
        var outTrackId = $"{template}-{Guid.NewGuid():N}";
        var response = await Api.PostAsJsonAsync("/api/cards", new { cardTemplateId = template, outTrackId, openConversationId = "cidStream==", cardData = cardData ?? new { }, callbackType });
        await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        return outTrackId;
    }

    /// <summary>Pushes a click and waits for its (first) answer.</summary>
    public async Task<SandboxStreamAnswer> ClickAsync(string outTrackId, string userId, object parameters, string? messageId = null)
    {
        var message = await Stream.PushCardCallbackAsync(outTrackId, userId, parameters, messageId);
        return await message.Answered.WaitAsync(Patience);
    }
}
