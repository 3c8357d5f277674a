namespace DingTalk.CardGateway.Tests.Storage.Chaos;

/// <summary>Why a click was sent: its first sending, its twin sent at the same time, or an old click delivered again later.</summary>
internal enum ChaosSend
{
    First,
    Twin,
    Stale,
}

/// <summary>The answer one sending of a click got, after as many tries as it took to get one.</summary>
internal sealed record ChaosAnswer(ChaosDelivery Click, ChaosSend Send, int Status, string? MediaType, string Text, int Tries);
