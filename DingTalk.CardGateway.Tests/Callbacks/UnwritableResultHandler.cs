using System.Text.Json;
using DingTalk.CardGateway.Handlers;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// <c>params.action = "unwritable"</c>: answers with a value from a JSON document holding half a surrogate pair (as a
/// backend's reply might), which no JSON writer takes — for the clicker, or with <c>params.to = "everyone"</c> for everyone.
/// </summary>
public sealed class UnwritableResultHandler : ICardActionHandler
{
    public Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        using var reply = JsonDocument.Parse("\"a\\ud800b\"");
        var note = CardValues.Of("note", reply.RootElement);
        return Task.FromResult(context.Param("to") == "everyone"
            ? CardActionResult.ForEveryone(EveryoneUpdate.Public(note))
            : CardActionResult.ForClicker(ClickerUpdate.Private(note)));
    }
}
