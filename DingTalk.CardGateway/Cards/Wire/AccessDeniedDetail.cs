namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>Added to a 403 for a missing permission.</summary>
public sealed record AccessDeniedDetail(IReadOnlyList<string>? RequiredScopes);
