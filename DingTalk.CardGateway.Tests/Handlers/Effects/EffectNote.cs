namespace DingTalk.CardGateway.Tests.Handlers.Effects;

/// <summary>
/// <see cref="RecordingEffect"/>'s payload: <see cref="Note"/> to record, and how the effect behaves — fail its first
/// <see cref="FailTimes"/> runs (<c>-1</c>: every run), fail for good, or wait at <see cref="HandlerGate"/>'s gate <see cref="Gate"/>
/// (<see cref="Deaf"/>: deaf to its cancellation token while it waits there, as blocking code is; with <see cref="ThenHonours"/>,
/// throwing once past the gate if the token was cancelled meanwhile, as blocking code followed by a call given the token does).
/// </summary>
public sealed record EffectNote(string Note, int FailTimes = 0, bool Permanent = false, string? Gate = null, string? Secret = null, bool Deaf = false, bool ThenHonours = false);
