using DingTalk.CardGateway.Handlers.Effects;
using DingTalk.CardGateway.Tests.Callbacks;

namespace DingTalk.CardGateway.Tests.Handlers.Effects;

/// <summary>An effect that records each run in <see cref="EffectRuns"/> and fails or waits as its payload says (<see cref="EffectNote"/>), or fails while its note is down (<see cref="EffectRuns.Down"/>).</summary>
public sealed class RecordingEffect(EffectRuns runs, HandlerGate gate) : ICardEffect<EffectNote>
{
    public async Task RunAsync(CardEffectRun<EffectNote> run, CancellationToken cancellationToken)
    {
        var note = run.Payload;
        if (note.Gate is { } name)
        {
            var opened = gate.WaitAt(name);
            await (note.Deaf ? opened : opened.WaitAsync(cancellationToken));
            if (note.ThenHonours)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        var fails = note.Permanent || note.FailTimes < 0 || run.Attempt <= note.FailTimes || runs.IsDown(note.Note);
        runs.Add(new EffectRuns.Run(run.IdempotencyKey, run.CallbackId, run.CardId, run.Attempt, note.Note, !fails));
        if (note.Permanent)
        {
            throw new PermanentEffectFailureException($"the ticket system refused {note.Note} for good");
        }

        if (fails)
        {
            throw new InvalidOperationException($"the ticket system is down (attempt {run.Attempt})");
        }
    }
}
