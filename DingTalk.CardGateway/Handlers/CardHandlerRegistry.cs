using System.Text;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// Where a handler is chosen: the registration whose match names the most criteria, the last registered
/// among equals (so an application's handler overrides a shipped one). Knows how to tell a developer which line would claim an unclaimed action.
/// </summary>
public sealed class CardHandlerRegistry(IEnumerable<CardHandlerRegistration> registrations)
{
    private const int MaxQuoted = 80;

    private readonly CardHandlerRegistration[] _bySpecificity =
        [.. registrations.Select((r, order) => (r, order)).OrderByDescending(x => x.r.Match.Specificity).ThenByDescending(x => x.order).Select(x => x.r)];

    public IReadOnlyList<CardHandlerRegistration> Registrations => _bySpecificity;

    public CardHandlerRegistration? Find(CardAction action, CardRecord? card)
    {
        foreach (var registration in _bySpecificity)
        {
            if (registration.Match.Matches(action, card))
            {
                return registration;
            }
        }

        return null;
    }

    /// <summary>
    /// What to tell a developer about <paramref name="action"/>, which no registration claims: the line that would
    /// (<see cref="SuggestRegistration"/>), and the registration it missed by one criterion while meeting another, if any —
    /// a new button whose action was not added to its handler's <c>Action(…)</c>, a template id spelled another way.
    /// </summary>
    public string Unclaimed(CardAction action, CardRecord? card)
    {
        var suggestion = SuggestRegistration(action, card);
        foreach (var registration in _bySpecificity)
        {
            if (MissedOnlyBy(registration.Match, action, card) is { } miss)
            {
                return $"{suggestion} or {registration.HandlerType.Name} is registered for {registration.Match}, which this click misses only by {miss}.";
            }
        }

        return suggestion;
    }

    /// <summary>
    /// A recorded click, routed now: the registration that would claim it, or what <see cref="Unclaimed"/> tells a developer
    /// about it (warning 3101's registration line), on a card of <paramref name="templateId"/> (null: one this gateway did
    /// not send).
    /// </summary>
    public (CardHandlerRegistration? Claims, string? Unclaimed) Route(CallbackRecord callback, string? templateId)
    {
        var action = new CardAction
        {
            CallbackId = callback.CallbackId,
            Transport = Enum.TryParse<CallbackTransport>(callback.Transport, out var transport) ? transport : CallbackTransport.Http,
            Type = Enum.TryParse<CardActionType>(callback.Type, out var type) ? type : CardActionType.ActionCallback,
            CardId = callback.CardId,
            UserId = callback.UserId,
            ActionIds = callback.ActionIds,
            Params = callback.Params ?? default,
            Action = callback.Action,
        };
        var card = templateId is null
            ? null
            : new CardRecord { Id = callback.CardId, Kind = action.Transport == CallbackTransport.RobotHttp ? CardKind.Robot : CardKind.Advanced, TemplateId = templateId };
        return Find(action, card) is { } claims ? (claims, null) : (null, Unclaimed(action, card));
    }

    /// <summary>
    /// Everything in <paramref name="action"/> a registration can match on besides the template, as a clause:
    /// <c>params.action "archive", actionIds "btn_archive"</c> (the first three ids), so the log names both, whichever the
    /// suggested line uses.
    /// </summary>
    public static string Clicked(CardAction action)
    {
        var ids = action.ActionIds.Count == 0
            ? "no actionIds"
            : "actionIds " + string.Join(", ", action.ActionIds.Take(3).Select(Quote)) + (action.ActionIds.Count > 3 ? $" and {action.ActionIds.Count - 3} more" : "");
        return $"{(action.Action is null ? "no params.action" : "params.action " + Quote(action.Action))}, {ids}";
    }

    /// <summary>The registration line that would claim <paramref name="action"/>, e.g. <c>builder.Services.AddCardActionHandler&lt;MyHandler&gt;(on =&gt; on.Action("vote"));</c>.</summary>
    public static string SuggestRegistration(CardAction action, CardRecord? card)
    {
        var match = new StringBuilder("on");
        if (card is not null)
        {
            match.Append(".Template(").Append(Quote(card.TemplateId)).Append(')');
        }

        if (action.Action is not null)
        {
            match.Append(".Action(").Append(Quote(action.Action)).Append(')');
        }
        else if (action.ActionIds.Count > 0)
        {
            match.Append(".ActionId(").Append(Quote(action.ActionIds[0])).Append(')');
        }

        if (action.Type == CardActionType.DynamicDataCallback)
        {
            match.Append(".DynamicData()");
        }

        if (match.Length == "on".Length)
        {
            // on => on would answer every click of every card: not what a missing handler wants.
            return "nothing in this click to route it by (no params.action, no actionIds, and a card this gateway did not send): "
                + "give the card's button a params.action, say \"close\", and register builder.Services.AddCardActionHandler<MyHandler>(on => on.Action(\"close\"));";
        }

        return $"builder.Services.AddCardActionHandler<MyHandler>(on => {match});";
    }

    /// <summary>The one criterion of <paramref name="match"/> that <paramref name="action"/> fails, when it names two or more; otherwise null.</summary>
    private static string? MissedOnlyBy(CardActionMatch match, CardAction action, CardRecord? card)
    {
        if (match.Type != action.Type || match.Specificity < 2)
        {
            return null;
        }

        return match.Misses(action, card) switch
        {
            CardActionCriteria.Template => card is null ? "being on a card this gateway did not send (no template known)" : $"its card's template {Quote(card.TemplateId)}",
            CardActionCriteria.ActionId => action.ActionIds.Count == 0 ? "having no actionIds" : $"its actionIds {string.Join(", ", action.ActionIds.Take(3).Select(Quote))}",
            CardActionCriteria.ParamsAction => action.Action is null ? "having no params.action" : $"its params.action {Quote(action.Action)}",
            _ => null, // none missed, or more than one
        };
    }

    /// <summary>A C# string literal of what the card sent, shortened and stripped of control characters.</summary>
    private static string Quote(string value)
    {
        var text = new StringBuilder("\"");
        foreach (var c in value.Length > MaxQuoted ? value[..MaxQuoted] : value)
        {
            _ = c switch
            {
                '"' => text.Append("\\\""),
                '\\' => text.Append(@"\\"),
                _ when char.IsControl(c) => text.Append('?'),
                _ => text.Append(c),
            };
        }

        return text.Append('"').ToString();
    }
}
