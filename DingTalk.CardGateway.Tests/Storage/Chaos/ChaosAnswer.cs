namespace DingTalk.CardGateway.Tests.Storage.Chaos;

/// <summary>
/// Why a click was sent: its first sending, its twin sent at the same time, or an old click delivered again later; over
/// Stream, where answers are told apart by frame only, any answer after a frame's first.
/// </summary>
internal enum ChaosSend
{
    First,
    Twin,
    Stale,
    Redelivered,
}

/// <summary>The answer one sending of a click got, after as many tries as it took to get one.</summary>
internal sealed record ChaosAnswer(ChaosDelivery Click, ChaosSend Send, int Status, string? MediaType, string Text, int Tries);
