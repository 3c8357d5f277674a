using DingTalk.CardGateway.Handlers;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary><c>params.action = "slow"</c>: holds until the test opens its <see cref="HandlerGate"/> (<c>params.gate</c>, or the shared one), then updates everyone.</summary>
public sealed class GatedHandler(HandlerGate gate) : ICardActionHandler
{
    public async Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        await gate.WaitAt(context.Param("gate") ?? "").WaitAsync(cancellationToken);
        return CardActionResult.ForClicker(ClickerUpdate.Private(CardValues.Of("mine", "late")))
            .AndForEveryone(EveryoneUpdate.Public(CardValues.Of("slow", "done")));
    }
}
