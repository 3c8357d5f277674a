using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// <c>params.action = "count"</c>: adds one to the card's counter (a handler state), then — when <c>params.gate</c> is
/// given — waits at that <see cref="HandlerGate"/> as a handler awaiting an HTTP call would; with <c>params.thenGate</c>,
/// adds one more and waits again there. The clicker sees the count it made, and so does everyone.
/// </summary>
public sealed class CountingStateHandler(IHandlerStateStore states, HandlerGate gate) : ICardActionHandler
{
    public const string State = "test.counter";

    public async Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        var counter = await states.UpdateAsync<Counter>(State, context.CardId, current => new Counter((current?.Count ?? 0) + 1), cancellationToken);
        if (context.Param("gate") is { } name)
        {
            await gate.WaitAt(name).WaitAsync(cancellationToken);
        }

        if (context.Param("thenGate") is { } then)
        {
            counter = await states.UpdateAsync<Counter>(State, context.CardId, current => new Counter((current?.Count ?? 0) + 1), cancellationToken);
            await gate.WaitAt(then).WaitAsync(cancellationToken);
        }

        return CardActionResult.ForClicker(ClickerUpdate.Private(CardValues.Of("myCount", counter.Count)))
            .AndForEveryone(EveryoneUpdate.Public(CardValues.Of("count", counter.Count)));
    }

    public sealed record Counter(int Count);
}
