using System.Collections.Concurrent;

namespace DingTalk.CardGateway.Tests.Handlers.Effects;

/// <summary>Every run of <see cref="RecordingEffect"/>, in any gateway it is shared with.</summary>
public sealed class EffectRuns
{
    private readonly ConcurrentQueue<Run> _runs = new();
    private readonly ConcurrentDictionary<string, bool> _down = new();

    public IReadOnlyList<Run> All => [.. _runs];

    public void Add(Run run) => _runs.Enqueue(run);

    /// <summary>The system the effect of <paramref name="note"/> calls is down: its runs fail (retried) until <see cref="Up"/>.</summary>
    public void Down(string note) => _down[note] = true;

    /// <summary>The system the effect of <paramref name="note"/> calls is back: its runs fail no more than their payload says.</summary>
    public void Up(string note) => _down.TryRemove(note, out _);

    public bool IsDown(string note) => _down.ContainsKey(note);

    /// <summary>The runs that recorded <paramref name="note"/>.</summary>
    public IReadOnlyList<Run> Of(string note) => [.. _runs.Where(r => r.Note == note)];

    /// <summary>One run of the effect: what it was given, and whether it ended well.</summary>
    public sealed record Run(string IdempotencyKey, string CallbackId, string CardId, int Attempt, string Note, bool Succeeded);
}
