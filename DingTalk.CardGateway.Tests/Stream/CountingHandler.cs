using System.Collections.Concurrent;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Tests.Callbacks;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>
/// <c>params.action = "count"</c>: records every invocation, so a test can prove none ran twice; takes
/// <c>params.delayMs</c> to finish, so frames are still in flight when a socket drops, or waits at the
/// <see cref="HandlerGate"/> named by <c>params.gate</c> until the test opens it.
/// </summary>
public sealed class CountingHandler(HandlerInvocations invocations, HandlerGate gate) : ICardActionHandler
{
    public const string Action = "count";

    public async Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        using var running = invocations.Add(context.CardId, context.UserId, context.CallbackId);
        if (int.TryParse(context.Param("delayMs"), out var delay))
        {
            await Task.Delay(delay, cancellationToken);
        }

        if (context.Param("gate") is { } held)
        {
            await gate.WaitAt(held).WaitAsync(cancellationToken);
        }

        return CardActionResult.ForClicker(ClickerUpdate.Private(CardValues.Of("counted", context.UserId)));
    }
}

/// <summary>What <see cref="CountingHandler"/> saw: card, user and callback id of each run, and the most that ran at once.</summary>
public sealed class HandlerInvocations
{
    private readonly ConcurrentQueue<(string CardId, string UserId, string CallbackId)> _runs = new();
    private int _running;
    private int _mostAtOnce;
    private int _finished;

    public int MostAtOnce => Volatile.Read(ref _mostAtOnce);

    /// <summary>Runs that have ended.</summary>
    public int Ended => Volatile.Read(ref _finished);

    public IReadOnlyList<(string CardId, string UserId, string CallbackId)> For(string cardId) => [.. _runs.Where(r => r.CardId == cardId)];

    /// <summary>Records a run; disposing the result marks it finished.</summary>
    public IDisposable Add(string cardId, string userId, string callbackId)
    {
        _runs.Enqueue((cardId, userId, callbackId));
        var running = Interlocked.Increment(ref _running);
        int most;
        while (running > (most = Volatile.Read(ref _mostAtOnce)) && Interlocked.CompareExchange(ref _mostAtOnce, running, most) != most)
        {
        }

        return new Finished(this);
    }

    private sealed class Finished(HandlerInvocations owner) : IDisposable
    {
        public void Dispose()
        {
            Interlocked.Decrement(ref owner._running);
            Interlocked.Increment(ref owner._finished);
        }
    }
}
