using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Admin;

/// <summary>
/// "Which handler is missing?" for the whole gateway: every registered handler with what it claims, beside the actions
/// clicked lately that none claimed, grouped, each with the registration line warning 3101 gives for it.
/// </summary>
public static class HandlerAdminEndpoints
{
    /// <summary>How far back unclaimed clicks are looked for unless asked (or Gateway:Storage:Retention, when shorter).</summary>
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromDays(7);

    public const int DefaultLimit = 100;
    public const int MaxLimit = 500;

    public static RouteGroupBuilder MapHandlerAdmin(this RouteGroupBuilder api)
    {
        api.MapGet("/handlers", OverviewAsync)
            .WithSummary("What the gateway routes: every registered handler, and the actions clicked lately that none claimed, grouped, with the registration to add")
            .WithDescription("handlers: each AddCardActionHandler registration in the order they are tried (handler, match, templateId, actionId, actions, type). unclaimed: the Unhandled callbacks received since `since` (an ISO 8601 date-time; by default the last 7 days, or Gateway:Storage:Retention when shorter) grouped by template, type, params.action (and actionIds when a click has none), the most clicked first, at most limit (1–500, 100) groups (more: true when some were left out): count, firstSeen, lastSeen, exampleCallbackId (the group's latest click; GET /api/callbacks/{callbackId}), and registration, the line warning 3101 gives; claimedBy instead when a registration claims it now.")
            .ProducesValidationProblem();
        return api;
    }

    private static async Task<Results<Ok<HandlerOverview>, ValidationProblem>> OverviewAsync(
        string? since,
        int? limit,
        CardHandlerRegistry handlers,
        ICallbackStore callbacks,
        IOptions<GatewayOptions> options,
        TimeProvider clock,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var from = clock.GetUtcNow() - (options.Value.Storage.Retention < DefaultWindow ? options.Value.Storage.Retention : DefaultWindow);
        if (since is not null && !CallbackAdminEndpoints.TryReadSince(since, out from))
        {
            errors["since"] = [CallbackAdminEndpoints.SinceError];
        }

        if (limit is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"From 1 to {MaxLimit} groups, not {limit}."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var (groups, more) = await callbacks.UnhandledAsync(from, limit ?? DefaultLimit, cancellationToken);
        var registered = handlers.Registrations
            .Select(r => new RegisteredHandler(
                r.HandlerType.Name, r.Match.ToString(), r.Match.TemplateId, r.Match.ActionIdIs, r.Match.ParamsActions, r.Match.Type.ToString()))
            .ToList();
        var unclaimed = groups
            .Select(g =>
            {
                var (claims, registration) = handlers.Route(g.Example, g.TemplateId);
                return new UnclaimedAction(
                    g.TemplateId, g.Example.Type, g.Example.Action, g.Example.ActionIds, g.Count, g.FirstSeen, g.LastSeen, g.Example.CallbackId,
                    registration, claims?.HandlerType.Name);
            })
            .ToList();
        return TypedResults.Ok(new HandlerOverview(registered, unclaimed, from, more));
    }
}
