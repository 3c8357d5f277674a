using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// Which callbacks a handler answers; every criterion given must hold. Built fluently:
/// <c>on =&gt; on.Template("tpl").Action("vote")</c>. The most specific match wins.
/// </summary>
public sealed record CardActionMatch
{
    public string? TemplateId { get; private init; }

    public string? ActionIdIs { get; private init; }

    public string? ParamsAction { get; private init; }

    public CardActionType Type { get; private init; } = CardActionType.ActionCallback;

    /// <summary>How many criteria it names: more is more specific.</summary>
    public int Specificity => (TemplateId is null ? 0 : 1) + (ActionIdIs is null ? 0 : 1) + (ParamsAction is null ? 0 : 1);

    /// <summary>The card's template (as sent by the gateway; <c>StandardCard</c> for normal robot cards).</summary>
    public CardActionMatch Template(string cardTemplateId) => this with { TemplateId = cardTemplateId };

    /// <summary>A component id among the callback's <c>actionIds</c>.</summary>
    public CardActionMatch ActionId(string actionId) => this with { ActionIdIs = actionId };

    /// <summary>The callback's <c>params.action</c>.</summary>
    public CardActionMatch Action(string action) => this with { ParamsAction = action };

    /// <summary>Answer <c>dynamicDataCallback</c> pulls instead of clicks.</summary>
    public CardActionMatch DynamicData() => this with { Type = CardActionType.DynamicDataCallback };

    public bool Matches(CardAction action, CardRecord? card) =>
        action.Type == Type
        && (TemplateId is null || string.Equals(card?.TemplateId, TemplateId, StringComparison.Ordinal))
        && (ActionIdIs is null || action.ActionIds.Contains(ActionIdIs, StringComparer.Ordinal))
        && (ParamsAction is null || string.Equals(action.Action, ParamsAction, StringComparison.Ordinal));

    public override string ToString() =>
        "on" + (TemplateId is null ? "" : $".Template(\"{TemplateId}\")") + (ActionIdIs is null ? "" : $".ActionId(\"{ActionIdIs}\")")
        + (ParamsAction is null ? "" : $".Action(\"{ParamsAction}\")") + (Type == CardActionType.DynamicDataCallback ? ".DynamicData()" : "");
}
