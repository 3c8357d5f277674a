namespace DingTalk.CardGateway.Stream.Wire;

/// <summary>POST <c>/v1.0/gateway/connections/open</c>: the app's credentials (no access token) and its subscriptions.</summary>
public sealed record OpenConnectionRequest(string ClientId, string ClientSecret, string Ua, IReadOnlyList<StreamSubscription> Subscriptions);
