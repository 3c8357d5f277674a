namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>PUT /v1.0/card/instances.</summary>
public sealed record UpdateCardRequest
{
    public required string OutTrackId { get; init; }

    public CardData? CardData { get; init; }

    public IReadOnlyDictionary<string, CardData>? PrivateData { get; init; }

    public CardUpdateOptions? CardUpdateOptions { get; init; }

    public int? UserIdType { get; init; }
}
