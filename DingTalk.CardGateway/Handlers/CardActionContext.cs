using System.Text.Json;
using System.Diagnostics.CodeAnalysis;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Handlers;

/// <summary>What a handler learns about a click: the callback (who, where, which action with which params) and the card as stored.</summary>
public sealed record CardActionContext : CardAction
{
    [SetsRequiredMembers]
    private CardActionContext(CardAction action, CardRecord? card)
        : base(action)
    {
        Card = card;
    }

    /// <summary>The card as the gateway created and last updated it; null for a card the gateway did not send.</summary>
    public CardRecord? Card { get; init; }

    /// <summary>Advanced (outTrackId, <c>/v1.0/card/instances</c>) or normal robot card (cardBizId).</summary>
    public CardKind CardKind => Transport == CallbackTransport.RobotHttp ? CardKind.Robot : Card?.Kind ?? CardKind.Advanced;

    /// <summary>A parameter as text: strings as they are, other kinds as their JSON; null when absent or null.</summary>
    public string? Param(string name) =>
        Params.ValueKind == JsonValueKind.Object && Params.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Null => null,
                _ => value.GetRawText(),
            }
            : null;

    public static CardActionContext From(CardAction action, CardRecord? card) => new(action, card);
}
