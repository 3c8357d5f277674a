using DingTalk.CardGateway.Handlers.Approval;
using DingTalk.CardGateway.Handlers.Poll;
using DingTalk.CardGateway.Handlers.Typewriter;
using DingTalk.CardGateway.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Handlers;

public static class HandlerExtensions
{
    /// <summary>
    /// Handler routing, delivery of their results (updates for everyone, streamed text), handler state, and the
    /// shipped handlers: poll (<c>vote</c>), approval (<c>approve</c>/<c>reject</c>), typewriter (<c>ask</c>).
    /// </summary>
    public static IServiceCollection AddCardHandlers(this IServiceCollection services)
    {
        services.AddOptionsWithValidateOnStart<HandlerOptions>().BindConfiguration(HandlerOptions.Section);
        services.AddSingleton<IValidateOptions<HandlerOptions>, HandlerOptionsValidator>();
        services.AddSingleton<CardHandlerRegistry>();
        services.AddSingleton<CardTypewriter>();
        services.AddSingleton<Effects.CardEffectRegistry>();
        services.AddHostedService<Storage.Sql.EffectDispatcher>(); // after storage (Program.cs), before the drains: stops after the handlers, before the database
        services.AddHostedService<TypewriterDrain>(); // after storage (Program.cs): stops before the outbox and the database
        services.AddSingleton<Callbacks.HandlerDrain>();
        services.AddHostedService(sp => sp.GetRequiredService<Callbacks.HandlerDrain>()); // stops first: a handler ending in the stop may still queue an update or start a text
        services.AddOptions<HostOptions>().Configure<IConfiguration>((host, configuration) =>
            host.ShutdownTimeout = Callbacks.HandlerDrain.ShutdownTimeout(host.ShutdownTimeout, Callbacks.HandlerDrain.ConfiguredGrace(configuration), Callbacks.HandlerDrain.ConfiguredDelay(configuration))); // a longer grace (or a delay) than the host's 30 s allows is kept, not cut short
        services.AddTypewriterTextSource();

        services.AddCardActionHandler<PollHandler>(on => on.Action(PollHandler.VoteAction));
        services.AddCardActionHandler<ApprovalHandler>(on => on.Action(ApprovalHandler.ApproveAction));
        services.AddCardActionHandler<ApprovalHandler>(on => on.Action(ApprovalHandler.RejectAction));
        services.AddCardActionHandler<TypewriterHandler>(on => on.Action(TypewriterHandler.AskAction));
        return services;
    }

    /// <summary>
    /// Routes the callbacks <paramref name="on"/> describes to <typeparamref name="THandler"/>, resolved per callback
    /// from a fresh scope. Among equally specific matches the last registered wins, so yours override shipped ones.
    /// </summary>
    public static IServiceCollection AddCardActionHandler<THandler>(this IServiceCollection services, Func<CardActionMatch, CardActionMatch> on)
        where THandler : class, ICardActionHandler
    {
        services.TryAddScoped<THandler>();
        services.AddSingleton(new CardHandlerRegistration(typeof(THandler), on(new CardActionMatch())));
        return services;
    }
}
