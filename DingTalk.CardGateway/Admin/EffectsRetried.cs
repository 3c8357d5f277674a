namespace DingTalk.CardGateway.Admin;

/// <summary>The answer of <c>POST /api/effects/retry</c>: how many dead effects of the name are pending again.</summary>
public sealed record EffectsRetried(string Effect, int Retried);
