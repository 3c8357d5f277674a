using System.Globalization;
using DingTalk.CardGateway.Handlers;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// <c>params.action = "order"</c>: reads <c>params.quantity</c> as a handler might, with <c>int.Parse</c>, whose
/// <see cref="FormatException"/> quotes the text it could not read.
/// </summary>
public sealed class QuantityHandler : ICardActionHandler
{
    public Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        var quantity = int.Parse(context.Param("quantity") ?? "1", CultureInfo.InvariantCulture);
        return Task.FromResult(CardActionResult.ForClicker(ClickerUpdate.Private(CardValues.Of("myQuantity", quantity.ToString(CultureInfo.InvariantCulture)))));
    }
}
