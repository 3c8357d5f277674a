namespace DingTalk.CardGateway.Admin;

/// <summary>What the gateway routes, and the clicks it was sent and routed nowhere.</summary>
/// <param name="Handlers">Every handler registration, in the order they are tried.</param>
/// <param name="Unclaimed">The clicks no handler claimed since <c>since</c>, grouped, the most clicked first.</param>
/// <param name="Since">The start of the window <c>unclaimed</c> covers.</param>
/// <param name="More">True when more groups were left out than <c>limit</c> allowed.</param>
public sealed record HandlerOverview(IReadOnlyList<RegisteredHandler> Handlers, IReadOnlyList<UnclaimedAction> Unclaimed, DateTimeOffset Since, bool More);
