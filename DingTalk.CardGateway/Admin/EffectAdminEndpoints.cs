using System.ComponentModel.DataAnnotations;
using System.Globalization;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Storage.Sql;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DingTalk.CardGateway.Admin;

/// <summary>
/// Putting dead effects right (<c>CardActionResult.AndAfterCommit</c>, given up): once their cause is fixed (the webhook
/// back, its credentials renewed) run one again, or all of one effect's, with the same idempotency key; or dismiss one
/// that should not run. Either way it stops counting as dead. The ids are those <c>GET /api/cards/{id}</c> shows under
/// <c>effects</c>.
/// </summary>
public static partial class EffectAdminEndpoints
{
    /// <summary>The longest effect name asked for: effect names are type names.</summary>
    internal const int MaxEffectName = 200;

    public static RouteGroupBuilder MapEffectAdmin(this RouteGroupBuilder api)
    {
        api.MapPost("/effects/{id}/retry", RetryAsync)
            .WithSummary("Run a dead effect again, once its cause is fixed: pending and due now, with the same idempotency key")
            .WithDescription("Its attempts go on counting from where they were; Gateway:Outbox:GiveUpAfter counts from now, so it is retried as a new effect would be before it is given up again. 202 with the effect (GET /api/cards/{cardId} shows what became of it); 404 when there is no effect of the id; 409 when it is not dead.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        api.MapPost("/effects/retry", RetryAllAsync)
            .WithSummary("Run every dead effect of one name again (after fixing the system it calls), each as POST /api/effects/{id}/retry")
            .WithDescription("effect: the effect's name (its type's name, as GET /api/cards/{id} shows it; required); status=dead (required). 202 with how many are pending again (0 when none of the name is dead).")
            .ProducesValidationProblem();
        api.MapDelete("/effects/{id}", DismissAsync)
            .WithSummary("Dismiss a dead effect: it is never run, stops counting as dead, and retention purges it as it purges done ones")
            .WithDescription("204 once dismissed; 404 when there is no effect of the id; 409 when it is not dead (a pending one may be running: let it end).")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return api;
    }

    private static async Task<Results<Accepted<EffectEntry>, ValidationProblem, ProblemHttpResult>> RetryAsync(
        string id, SqlEffects effects, HttpContext http, ILoggerFactory logs, CancellationToken cancellationToken)
    {
        if (ParseId(id) is not { } effectId)
        {
            return InvalidId(id);
        }

        if (!await effects.RetryDeadAsync(effectId, cancellationToken))
        {
            return await NotDeadAsync(effectId, effects, "run again", cancellationToken);
        }

        var effect = await effects.FindAsync(effectId, cancellationToken);
        Log.Retried(logs.CreateLogger(typeof(EffectAdminEndpoints)), effectId, effect?.Effect, effect?.CallbackId, http.Connection.RemoteIpAddress?.ToString());
        return effect is null
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such effect", detail: $"Effect {effectId} was run again and is gone already (done, then purged).")
            : TypedResults.Accepted($"/api/cards/{Uri.EscapeDataString(effect.CardId)}", effect);
    }

    private static async Task<Results<Accepted<EffectsRetried>, ValidationProblem>> RetryAllAsync(
        [Required] string? effect, [Required, AllowedValues("dead")] string? status, SqlEffects effects, HttpContext http, ILoggerFactory logs, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(effect) || effect.Length > MaxEffectName)
        {
            errors["effect"] = [$"The effect's name (as GET /api/cards/{{id}} shows it under effects), up to {MaxEffectName} characters."];
        }

        if (!string.Equals(status, "dead", StringComparison.OrdinalIgnoreCase))
        {
            errors["status"] = ["dead: dead effects are the ones to run again (say so, so that no one runs every effect of a name by mistake)."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var retried = await effects.RetryAllDeadAsync(effect!, cancellationToken);
        Log.RetriedAll(logs.CreateLogger(typeof(EffectAdminEndpoints)), retried, effect!, http.Connection.RemoteIpAddress?.ToString());
        return TypedResults.Accepted((string?)null, new EffectsRetried(effect!, retried));
    }

    private static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> DismissAsync(
        string id, SqlEffects effects, HttpContext http, ILoggerFactory logs, CancellationToken cancellationToken)
    {
        if (ParseId(id) is not { } effectId)
        {
            return InvalidId(id);
        }

        if (!await effects.DismissDeadAsync(effectId, cancellationToken))
        {
            return await NotDeadAsync(effectId, effects, "dismissed", cancellationToken);
        }

        Log.Dismissed(logs.CreateLogger(typeof(EffectAdminEndpoints)), effectId, http.Connection.RemoteIpAddress?.ToString());
        return TypedResults.NoContent();
    }

    /// <summary>An effect's id: a whole number from 1, digits only; null for anything else.</summary>
    private static long? ParseId(string id) =>
        long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : null;

    private static ValidationProblem InvalidId(string id) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]>
        {
            ["id"] = [$"An effect's id is a whole number from 1 (GET /api/cards/{{id}} shows it under effects), not {Shorten(id)}."],
        });

    /// <summary>404 when there is no effect of the id, 409 (with its status) when it is not dead.</summary>
    private static async Task<ProblemHttpResult> NotDeadAsync(long id, SqlEffects effects, string action, CancellationToken cancellationToken) =>
        await effects.FindAsync(id, cancellationToken) is { } effect
            ? TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: "Effect not dead",
                detail: $"Effect {id} ({effect.Effect}) is {effect.Status.ToString().ToLowerInvariant()}: only a dead effect is {action}.")
            : TypedResults.Problem(
                statusCode: StatusCodes.Status404NotFound,
                title: "No such effect",
                detail: $"There is no effect {id} (never queued, or done and purged by retention).");

    private static string Shorten(string value) => value.Length <= 40 ? $"\"{value}\"" : $"\"{value[..40]}…\"";

    private static partial class Log
    {
        [LoggerMessage(8012, LogLevel.Information, "An operator (admin key, from {RemoteIp}) ran dead effect {EffectId} ({Effect} of callback {CallbackId}) again: pending, due now, with the same idempotency key")]
        public static partial void Retried(ILogger logger, long effectId, string? effect, string? callbackId, string? remoteIp);

        [LoggerMessage(8013, LogLevel.Information, "An operator (admin key, from {RemoteIp}) ran {Effects} dead effect(s) named {Effect} again: pending, due now, each with its same idempotency key")]
        public static partial void RetriedAll(ILogger logger, int effects, string effect, string? remoteIp);

        [LoggerMessage(8014, LogLevel.Information, "An operator (admin key, from {RemoteIp}) dismissed dead effect {EffectId}: it is never run, and no longer counts as dead")]
        public static partial void Dismissed(ILogger logger, long effectId, string? remoteIp);
    }
}
