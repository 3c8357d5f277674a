namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>The test classes that share one <see cref="CallbackGateway"/>.</summary>
[CollectionDefinition(Name)]
public sealed class CallbackGatewayCollection : ICollectionFixture<CallbackGateway>
{
    public const string Name = "Callback gateway";
}
