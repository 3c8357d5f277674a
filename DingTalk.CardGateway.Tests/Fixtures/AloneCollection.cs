namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>
/// Test classes that judge when things happened on the real clock (a pace kept across replicas, say): they run after
/// every other class, one at a time, so a machine busy with the rest of the suite does not stall them past their limits.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneCollection
{
    public const string Name = "Alone";
}
