using System.Collections.Concurrent;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>The test's hand on <see cref="GatedHandler"/>: one gate shared by default, or one per <c>params.gate</c>.</summary>
public sealed class HandlerGate
{
    private readonly ConcurrentDictionary<string, (TaskCompletionSource Entered, TaskCompletionSource Opened)> _gates = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _arrivals = new(StringComparer.Ordinal);

    public Task Opened => Gate("").Opened.Task;

    /// <summary>Completes once a handler waits at gate <paramref name="id"/>.</summary>
    public Task Entered(string id) => Gate(id).Entered.Task;

    /// <summary>Where a handler waits: <paramref name="id"/>'s gate, once entered.</summary>
    public Task WaitAt(string id)
    {
        _arrivals.AddOrUpdate(id, 1, (_, n) => n + 1);
        var gate = Gate(id);
        gate.Entered.TrySetResult();
        return gate.Opened.Task;
    }

    public void Open(string id = "") => Gate(id).Opened.TrySetResult();

    /// <summary>How many handler runs came to gate <paramref name="id"/>.</summary>
    public int Arrivals(string id) => _arrivals.GetValueOrDefault(id);

    private (TaskCompletionSource Entered, TaskCompletionSource Opened) Gate(string id) =>
        _gates.GetOrAdd(id, _ => (new(TaskCreationOptions.RunContinuationsAsynchronously), new(TaskCreationOptions.RunContinuationsAsynchronously)));
}
