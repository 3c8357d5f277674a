using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Tests.Handlers.Samples;

/// <summary>
/// An incident card (<c>tpl.incident</c>), written as a team adding its own handler would, from the README alone:
/// <c>ack</c> (the first acknowledger owns it), <c>resolve</c> (the owner only), <c>assign</c> (a form bound to
/// <see cref="IncidentAssignment"/>: one user id or a list of them, pages the new owner unless unticked and tells them privately).
/// </summary>
public sealed class IncidentHandler(IHandlerStateStore states, IIncidentPager pager) : ICardActionHandler
{
    public const string Template = "tpl.incident";

    public async Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken) => context.Action switch
    {
        "ack" => await AcknowledgeAsync(context, cancellationToken),
        "resolve" => await ResolveAsync(context, cancellationToken),
        "assign" => await AssignAsync(context, cancellationToken),
        _ => CardActionResult.None,
    };

    private async Task<CardActionResult> AcknowledgeAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        var incident = await states.UpdateAsync<Incident>(nameof(IncidentHandler), context.CardId,
            current => current ?? new Incident("acknowledged", context.UserId), cancellationToken);
        return incident.Owner == context.UserId
            ? Shown(incident)
            : TellClicker($"{incident.Owner} already owns this incident.");
    }

    private async Task<CardActionResult> ResolveAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        var incident = await states.GetAsync<Incident>(nameof(IncidentHandler), context.CardId, cancellationToken);
        if (incident?.Owner != context.UserId)
        {
            return TellClicker(incident is null ? "Acknowledge the incident first." : $"Only {incident.Owner} can resolve this incident.");
        }

        incident = await states.UpdateAsync<Incident>(nameof(IncidentHandler), context.CardId,
            current => current!.Owner == context.UserId ? current with { Status = "resolved" } : current, cancellationToken);
        return incident.Owner == context.UserId ? Shown(incident) : TellClicker($"Only {incident.Owner} can resolve this incident.");
    }

    private async Task<CardActionResult> AssignAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        IncidentAssignment form;
        try
        {
            form = context.ParamsAs<IncidentAssignment>();
        }
        catch (CardParamsException problem) when (problem.Path == "$.assignee")
        {
            // The picker sent no one we can read: the clicker is told. Any other problem is the card's, not the clicker's:
            // left to the gateway, which answers {} and logs it (3123).
            return TellClicker("Pick someone to assign the incident to.");
        }

        // A form's user picker sends one id or a list of them; the first one named takes it.
        if (form.Assignee is not [var assignee, ..] || assignee.Length == 0)
        {
            return TellClicker("Pick someone to assign the incident to.");
        }

        var incident = await states.UpdateAsync<Incident>(nameof(IncidentHandler), context.CardId,
            current => current is { Status: "resolved" } ? current : new Incident("acknowledged", assignee), cancellationToken);
        if (incident.Owner != assignee)
        {
            return TellClicker("This incident is resolved.");
        }

        if (form.Page && context.Run == 1)
        {
            await pager.PageAsync(assignee, context.CardId, cancellationToken); // outside the store: not undone by a re-run
        }

        var notice = $"{context.UserId} assigned this incident to you.{(form.Note is { } note ? $" {note}" : "")}";
        return Shown(incident).AndForEveryone(EveryoneUpdate.Public(Values(incident)).WithPrivate(assignee, CardValues.Of("notice", notice)));
    }

    private static CardValues Values(Incident incident) => CardValues.Of("status", incident.Status).With("owner", incident.Owner);

    private static CardActionResult Shown(Incident incident) =>
        CardActionResult.ForClicker(ClickerUpdate.Public(Values(incident))).AndForEveryone(EveryoneUpdate.Public(Values(incident)));

    private static CardActionResult TellClicker(string text) => CardActionResult.ForClicker(ClickerUpdate.Private(CardValues.Of("error", text)));
}
