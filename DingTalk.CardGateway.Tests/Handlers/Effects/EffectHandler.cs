using DingTalk.CardGateway.Handlers;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Tests.Callbacks;

namespace DingTalk.CardGateway.Tests.Handlers.Effects;

/// <summary>
/// <c>params.action = "effect"</c>: asks for <see cref="RecordingEffect"/> after the commit with
/// <c>params.note</c> (with <c>-run{Run}</c> appended when <c>params.count</c> is set), failing <c>params.fail</c> times or
/// for good (<c>params.permanent</c>), waiting at <c>params.effectGate</c> (deaf to its token with <c>params.deaf</c>). With <c>params.count</c> it first adds one to
/// <see cref="CountingStateHandler"/>'s counter and waits at <c>params.gate</c>, so another click may change the counter
/// meanwhile and the handler run again. <c>params.unregistered</c> asks for an effect nobody registered; <c>params.namesake</c>
/// for one nobody registered that shares its type's name with <see cref="RecordingEffect"/>.
/// </summary>
public sealed class EffectHandler(IHandlerStateStore states, HandlerGate gate) : ICardActionHandler
{
    public async Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        var note = context.Param("note") ?? "note";
        if (context.Param("count") is not null)
        {
            await states.UpdateAsync<CountingStateHandler.Counter>(CountingStateHandler.State, context.CardId, c => new CountingStateHandler.Counter((c?.Count ?? 0) + 1), cancellationToken);
            if (context.Param("gate") is { } name)
            {
                await gate.WaitAt(name).WaitAsync(cancellationToken);
            }

            note += "-run" + context.Run;
        }

        var result = CardActionResult.ForClicker(ClickerUpdate.Private(CardValues.Of("queued", note)));
        if (context.Param("unregistered") is not null)
        {
            return result.AndAfterCommit<UnregisteredEffect, string>(note);
        }

        if (context.Param("namesake") is not null)
        {
            return result.AndAfterCommit<Elsewhere.RecordingEffect, EffectNote>(new EffectNote(note, FailTimes: 0, Permanent: false, Gate: null, Secret: null));
        }

        return result.AndAfterCommit<RecordingEffect, EffectNote>(new EffectNote(
            note,
            FailTimes: int.Parse(context.Param("fail") ?? "0", System.Globalization.CultureInfo.InvariantCulture),
            Permanent: context.Param("permanent") is not null,
            Gate: context.Param("effectGate"),
            Secret: context.Param("secret"),
            Deaf: context.Param("deaf") is not null,
            ThenHonours: context.Param("thenHonours") is not null));
    }

    /// <summary>Another class named RecordingEffect (as in another namespace of an application), which no test registers.</summary>
    public static class Elsewhere
    {
        public sealed class RecordingEffect : DingTalk.CardGateway.Handlers.Effects.ICardEffect<EffectNote>
        {
            public Task RunAsync(DingTalk.CardGateway.Handlers.Effects.CardEffectRun<EffectNote> run, CancellationToken cancellationToken) => Task.CompletedTask;
        }
    }

    /// <summary>An effect no test registers.</summary>
    public sealed class UnregisteredEffect : DingTalk.CardGateway.Handlers.Effects.ICardEffect<string>
    {
        public Task RunAsync(DingTalk.CardGateway.Handlers.Effects.CardEffectRun<string> run, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
