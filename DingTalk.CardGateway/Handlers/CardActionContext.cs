using System.Text.Json;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Handlers;

/// <summary>What a handler learns about a click: who, where, which action with which params, and the card as stored.</summary>
public sealed record CardActionContext
{
    /// <summary>Stable across redeliveries; quote it in logs.</summary>
    public required string CallbackId { get; init; }

    public required CallbackTransport Transport { get; init; }

    public required CardActionType Type { get; init; }

    /// <summary>The outTrackId of an advanced card, or the cardBizId of a normal robot card.</summary>
    public required string CardId { get; init; }

    public string? OutTrackId { get; init; }

    public string? CardBizId { get; init; }

    public required string UserId { get; init; }

    public string? CorpId { get; init; }

    /// <summary>Where the click happened, e.g. <c>im</c> (DingTalk's <c>spaceType</c>).</summary>
    public string? SpaceType { get; init; }

    /// <summary>e.g. the group's <c>cid…==</c>.</summary>
    public string? SpaceId { get; init; }

    public IReadOnlyList<string> ActionIds { get; init; } = [];

    /// <summary><c>params</c> as sent: a JSON object whose values may be strings, numbers, booleans, arrays or objects.</summary>
    public required JsonElement Params { get; init; }

    /// <summary><c>params.action</c>, when it is a string.</summary>
    public string? Action { get; init; }

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

    public static CardActionContext From(CardAction action, CardRecord? card) => new()
    {
        CallbackId = action.CallbackId,
        Transport = action.Transport,
        Type = action.Type,
        CardId = action.CardId,
        OutTrackId = action.OutTrackId,
        CardBizId = action.CardBizId,
        UserId = action.UserId,
        CorpId = action.CorpId,
        SpaceType = action.SpaceType,
        SpaceId = action.SpaceId,
        ActionIds = action.ActionIds,
        Params = action.Params,
        Action = action.Action,
        Card = card,
    };
}
