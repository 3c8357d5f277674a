using DingTalk.CardGateway.Handlers;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary><c>params.action = "slow"</c>: holds until the test opens <see cref="HandlerGate"/>, then updates everyone.</summary>
public sealed class GatedHandler(HandlerGate gate) : ICardActionHandler
{
    public async Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        await gate.Opened.WaitAsync(cancellationToken);
        return CardActionResult.ForClicker(ClickerUpdate.Private(CardValues.Of("mine", "late")))
            .AndForEveryone(EveryoneUpdate.Public(CardValues.Of("slow", "done")));
    }
}
