using System.Text.Json;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Cards.Wire;
using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Hosting;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// The answer to a card callback, updating the clicking user's card only: <c>{"cardUpdateOptions":{…},
/// "cardData":{"cardParamMap":{…}},"userPrivateData":{"cardParamMap":{…}}}</c>, or <c>{}</c> for no change.
/// Over Stream it travels as <c>{"response": …}</c>.
/// </summary>
public sealed record CardCallbackResponse(CardUpdateOptions? CardUpdateOptions = null, CardData? CardData = null, CardData? UserPrivateData = null)
{
    public static CardCallbackResponse Empty { get; } = new();

    public static CardCallbackResponse For(ClickerUpdate? clicker) =>
        clicker is null || clicker.IsEmpty
            ? Empty
            : new CardCallbackResponse(
                new CardUpdateOptions(UpdateCardDataByKey: true, UpdatePrivateDataByKey: true),
                clicker.CardData is { Count: > 0 } data ? new CardData(CardParamMapEncoder.Encode(data)) : null,
                clicker.PrivateData is { Count: > 0 } mine ? new CardData(CardParamMapEncoder.Encode(mine)) : null);

    public string ToJson() => ReferenceEquals(this, Empty) ? "{}" : JsonSerializer.Serialize(this, GatewayJson.Options);
}
