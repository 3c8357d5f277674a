namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>The test classes that share one <see cref="StreamGateway"/>.</summary>
[CollectionDefinition(Name)]
public sealed class StreamGatewayCollection : ICollectionFixture<StreamGateway>
{
    public const string Name = "Stream gateway";
}
