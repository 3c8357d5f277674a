using DingTalk.CardGateway.Handlers;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary><c>params.action = "explode"</c>: a handler with a bug.</summary>
public sealed class ThrowingHandler : ICardActionHandler
{
    public Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("handler bug");
}
