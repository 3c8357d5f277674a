namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>POST /v1.0/card/instances/createAndDeliver.</summary>
public sealed record CreateAndDeliverRequest
{
    public required string CardTemplateId { get; init; }

    public required string OutTrackId { get; init; }

    /// <summary><c>HTTP</c> or <c>STREAM</c>.</summary>
    public required string CallbackType { get; init; }

    public string? CallbackRouteKey { get; init; }

    public required CardData CardData { get; init; }

    /// <summary>Per userId.</summary>
    public IReadOnlyDictionary<string, CardData>? PrivateData { get; init; }

    public required string OpenSpaceId { get; init; }

    public ImGroupOpenSpaceModel? ImGroupOpenSpaceModel { get; init; }

    public ImGroupOpenDeliverModel? ImGroupOpenDeliverModel { get; init; }

    public ImRobotOpenSpaceModel? ImRobotOpenSpaceModel { get; init; }

    public ImRobotOpenDeliverModel? ImRobotOpenDeliverModel { get; init; }

    /// <summary>1 = userId, 2 = unionId.</summary>
    public int? UserIdType { get; init; }
}
