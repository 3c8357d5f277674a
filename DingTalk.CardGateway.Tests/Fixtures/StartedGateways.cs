namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// The gateways a test starts against one <see cref="FakeDingTalk"/>, each host running by the time <see cref="Start"/>
/// returns (registering its callback URL, say), and all of them disposed with the test.
/// </summary>
public sealed class StartedGateways(FakeDingTalk dingTalk) : IAsyncDisposable
{
    private readonly List<GatewayFactory> _running = [];

    public GatewayFactory Start(IReadOnlyDictionary<string, string?> settings)
    {
        var gateway = new GatewayFactory(dingTalk, settings);
        _running.Add(gateway);
        gateway.CreateClient().Dispose(); // starts the host
        return gateway;
    }

    /// <summary>Stops <paramref name="gateway"/> now, as a replica taken out of a rolling deployment.</summary>
    public async Task StopAsync(GatewayFactory gateway)
    {
        await gateway.DisposeAsync();
        _running.Remove(gateway);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var gateway in _running)
        {
            await gateway.DisposeAsync();
        }
    }
}
