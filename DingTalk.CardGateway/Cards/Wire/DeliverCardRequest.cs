namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>POST /v1.0/card/instances/deliver.</summary>
public sealed record DeliverCardRequest
{
    public required string OutTrackId { get; init; }

    public required string OpenSpaceId { get; init; }

    public ImGroupOpenDeliverModel? ImGroupOpenDeliverModel { get; init; }

    public ImRobotOpenDeliverModel? ImRobotOpenDeliverModel { get; init; }

    public int? UserIdType { get; init; }
}
