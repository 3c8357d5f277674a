using System.Text.Json;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Handlers;

namespace DingTalk.CardGateway.Tests.Handlers;

/// <summary>The context a handler is given for a click, built without a gateway: for tests of what a handler reads off it.</summary>
internal static class Clicks
{
    /// <summary>User u1's HTTP action callback on a card the gateway has not stored, <paramref name="parameters"/> its <c>params</c>.</summary>
    public static CardActionContext WithParams(string parameters) => CardActionContext.From(
        new CardAction
        {
            CallbackId = "cb-1",
            Transport = CallbackTransport.Http,
            Type = CardActionType.ActionCallback,
            CardId = "card-1",
            UserId = "u1",
            Params = JsonDocument.Parse(parameters).RootElement,
        },
        card: null);
}
