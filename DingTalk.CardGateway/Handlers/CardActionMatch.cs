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

    /// <summary>The callback's <c>params.action</c>, or the first of those it may be (<see cref="ParamsActions"/>).</summary>
    public string? ParamsAction => ParamsActions?[0];

    /// <summary>The <c>params.action</c> values it answers (any one of them); null: any.</summary>
    public IReadOnlyList<string>? ParamsActions { get; private init; }

    public CardActionType Type { get; private init; } = CardActionType.ActionCallback;

    /// <summary>How many criteria it names: more is more specific.</summary>
    public int Specificity => (TemplateId is null ? 0 : 1) + (ActionIdIs is null ? 0 : 1) + (ParamsAction is null ? 0 : 1);

    /// <summary>The card's template (as sent by the gateway; <c>StandardCard</c> for normal robot cards).</summary>
    public CardActionMatch Template(string cardTemplateId) => this with { TemplateId = cardTemplateId };

    /// <summary>A component id among the callback's <c>actionIds</c>.</summary>
    public CardActionMatch ActionId(string actionId) => this with { ActionIdIs = actionId };

    /// <summary>The callback's <c>params.action</c> — any of <paramref name="action"/> and <paramref name="more"/>: one handler for several actions (<c>on.Action("join", "leave")</c>) reads <c>context.Action</c> to tell them apart.</summary>
    public CardActionMatch Action(string action, params string[] more) => this with { ParamsActions = [action, .. more] };

    /// <summary>Answer <c>dynamicDataCallback</c> pulls instead of clicks.</summary>
    public CardActionMatch DynamicData() => this with { Type = CardActionType.DynamicDataCallback };

    public bool Matches(CardAction action, CardRecord? card) =>
        action.Type == Type && TemplateHolds(card) && ActionIdHolds(action) && ParamsActionHolds(action);

    /// <summary>The criteria it names that <paramref name="action"/> on <paramref name="card"/> fails (the callback's type aside).</summary>
    public CardActionCriteria Misses(CardAction action, CardRecord? card) =>
        (TemplateHolds(card) ? CardActionCriteria.None : CardActionCriteria.Template)
        | (ActionIdHolds(action) ? CardActionCriteria.None : CardActionCriteria.ActionId)
        | (ParamsActionHolds(action) ? CardActionCriteria.None : CardActionCriteria.ParamsAction);

    private bool TemplateHolds(CardRecord? card) => TemplateId is null || string.Equals(card?.TemplateId, TemplateId, StringComparison.Ordinal);

    private bool ActionIdHolds(CardAction action) => ActionIdIs is null || action.ActionIds.Contains(ActionIdIs, StringComparer.Ordinal);

    private bool ParamsActionHolds(CardAction action) =>
        ParamsActions is null || (action.Action is { } named && ParamsActions.Contains(named, StringComparer.Ordinal));

    public override string ToString() =>
        "on" + (TemplateId is null ? "" : $".Template(\"{TemplateId}\")") + (ActionIdIs is null ? "" : $".ActionId(\"{ActionIdIs}\")")
        + (ParamsActions is null ? "" : $".Action({string.Join(", ", ParamsActions.Select(a => $"\"{a}\""))})") + (Type == CardActionType.DynamicDataCallback ? ".DynamicData()" : "");
}
