namespace DingTalk.CardGateway.Cards.Wire;

/// <summary><c>spaceType</c> is <c>IM_ROBOT</c> for a 1:1 chat with the robot.</summary>
public sealed record ImRobotOpenDeliverModel(
    string SpaceType,
    string? RobotCode = null,
    IReadOnlyDictionary<string, string>? Extension = null);
