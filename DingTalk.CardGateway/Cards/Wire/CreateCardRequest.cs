namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>POST /v1.0/card/instances (create without delivering).</summary>
public sealed record CreateCardRequest
{
    public required string CardTemplateId { get; init; }

    public required string OutTrackId { get; init; }

    public required string CallbackType { get; init; }

    public string? CallbackRouteKey { get; init; }

    public required CardData CardData { get; init; }

    public IReadOnlyDictionary<string, CardData>? PrivateData { get; init; }

    public ImGroupOpenSpaceModel? ImGroupOpenSpaceModel { get; init; }

    public ImRobotOpenSpaceModel? ImRobotOpenSpaceModel { get; init; }

    public int? UserIdType { get; init; }
}
