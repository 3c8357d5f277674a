using System.Text.Json;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// <c>params.action = "script"</c>: runs <c>params.do</c>, comma-separated steps, in order — <c>count</c> (adds one to
/// <see cref="CountingStateHandler"/>'s counter), <c>wait:NAME</c> (waits at that <see cref="HandlerGate"/>), <c>hang:NAME</c> (the same, deaf to its
/// cancellation token),
/// <c>card</c> (queues an update of the card's <c>scripted</c> value through <see cref="CardUpdates"/>), <c>find</c>
/// (reads the stored card), <c>delay:MS</c> (awaits that many milliseconds), <c>block:MS</c> (blocks its thread that long) and <c>throw</c>. The clicker sees the last count it made
/// (<c>myCount</c>) and which run of the handler made it (<c>myRun</c>).
/// </summary>
public sealed class ScriptedHandler(IHandlerStateStore states, ICardStore cards, CardUpdates updates, HandlerGate gate) : ICardActionHandler
{
    public async Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        var count = 0;
        foreach (var step in (context.Param("do") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            switch (step)
            {
                case "count":
                    count = (await states.UpdateAsync<CountingStateHandler.Counter>(CountingStateHandler.State, context.CardId, c => new CountingStateHandler.Counter((c?.Count ?? 0) + 1), cancellationToken)).Count;
                    break;
                case "card":
                    await updates.QueueAsync(
                        new PendingCardUpdate(context.CardId, context.CardKind, new Dictionary<string, JsonElement> { ["scripted"] = JsonSerializer.SerializeToElement("yes") }, null),
                        afterAnswer: true,
                        cancellationToken);
                    break;
                case "find":
                    _ = await cards.FindAsync(context.CardId, cancellationToken);
                    break;
                case "throw":
                    throw new InvalidOperationException("scripted failure");
                case var delay when delay.StartsWith("delay:", StringComparison.Ordinal):
                    await Task.Delay(Milliseconds(delay), cancellationToken);
                    break;
                case var hang when hang.StartsWith("hang:", StringComparison.Ordinal):
                    await gate.WaitAt(hang["hang:".Length..]); // a handler that ignores its token
                    break;
                case var block when block.StartsWith("block:", StringComparison.Ordinal):
                    Thread.Sleep(Milliseconds(block)); // a handler that blocks its thread instead of awaiting
                    break;
                default:
                    await gate.WaitAt(step["wait:".Length..]).WaitAsync(cancellationToken);
                    break;
            }
        }

        return CardActionResult.ForClicker(ClickerUpdate.Private(CardValues.Of("myCount", count).With("myRun", context.Run)));
    }

    private static TimeSpan Milliseconds(string step) =>
        TimeSpan.FromMilliseconds(int.Parse(step[(step.IndexOf(':', StringComparison.Ordinal) + 1)..], System.Globalization.CultureInfo.InvariantCulture));
}
