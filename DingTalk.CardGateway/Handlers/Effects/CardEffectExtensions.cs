using System.Text.Json;
using DingTalk.CardGateway.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace DingTalk.CardGateway.Handlers.Effects;

public static class CardEffectExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TEffect"/>, run after the click that asked for it commits
    /// (<see cref="CardActionResult.AndAfterCommit{TEffect, TPayload}"/>); resolved per run from a scope of its own, so it
    /// can take services (an <c>IHttpClientFactory</c>). Known by its type's name, which pending effects are stored under:
    /// keep it while any are pending.
    /// </summary>
    public static IServiceCollection AddCardEffect<TEffect, TPayload>(this IServiceCollection services)
        where TEffect : class, ICardEffect<TPayload>
    {
        services.TryAddScoped<TEffect>();
        services.AddSingleton(new CardEffectRegistration(
            typeof(TEffect).Name,
            typeof(TEffect),
            (provider, run, cancellationToken) => provider.GetRequiredService<TEffect>().RunAsync(
                new CardEffectRun<TPayload>(run.IdempotencyKey, run.CallbackId, run.CardId, run.Effect, run.Attempt, JsonSerializer.Deserialize<TPayload>(run.Payload, GatewayJson.Options)!),
                cancellationToken)));
        return services;
    }
}
