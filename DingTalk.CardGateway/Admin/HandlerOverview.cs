namespace DingTalk.CardGateway.Admin;

/// <summary>
/// What the gateway routes (<paramref name="Handlers"/>, in the order they are tried) and what it was sent since
/// <paramref name="Since"/> and routed nowhere (<paramref name="Unclaimed"/>, the most clicked first; <paramref name="More"/>
/// when more groups were left out).
/// </summary>
public sealed record HandlerOverview(IReadOnlyList<RegisteredHandler> Handlers, IReadOnlyList<UnclaimedAction> Unclaimed, DateTimeOffset Since, bool More);
