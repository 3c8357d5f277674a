namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>One fake DingTalk and one gateway against it, shared by a test class; tests reset the fake's state.</summary>
public sealed class DingTalkFixture : IAsyncLifetime
{
    public FakeDingTalk DingTalk { get; private set; } = null!;

    public GatewayFactory Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        DingTalk = await FakeDingTalk.StartAsync();
        Gateway = new GatewayFactory(DingTalk);
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await DingTalk.DisposeAsync();
    }
}
