using System.Collections.Concurrent;

namespace DingTalk.CardGateway.Tests.Handlers.Effects;

/// <summary>Every run of <see cref="RecordingEffect"/>, in any gateway it is shared with.</summary>
public sealed class EffectRuns
{
    private readonly ConcurrentQueue<Run> _runs = new();

    public IReadOnlyList<Run> All => [.. _runs];

    public void Add(Run run) => _runs.Enqueue(run);

    /// <summary>The runs that recorded <paramref name="note"/>.</summary>
    public IReadOnlyList<Run> Of(string note) => [.. _runs.Where(r => r.Note == note)];

    /// <summary>One run of the effect: what it was given, and whether it ended well.</summary>
    public sealed record Run(string IdempotencyKey, string CallbackId, string CardId, int Attempt, string Note, bool Succeeded);
}
