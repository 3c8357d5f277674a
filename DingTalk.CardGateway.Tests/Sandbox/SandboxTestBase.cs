using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.SandboxTests;

/// <summary>A fresh fake DingTalk per test and a client already holding a valid token.</summary>
public abstract class SandboxTestBase : IAsyncLifetime
{
    protected FakeDingTalk DingTalk { get; private set; } = null!;

    protected SandboxClient Client { get; private set; } = null!;

    public virtual async Task InitializeAsync()
    {
        DingTalk = await FakeDingTalk.StartAsync();
        Client = new SandboxClient(DingTalk);
        await Client.LoginAsync();
    }

    public virtual async Task DisposeAsync()
    {
        Client.Dispose();
        await DingTalk.DisposeAsync();
    }
}
