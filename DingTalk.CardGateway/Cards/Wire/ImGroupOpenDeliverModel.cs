namespace DingTalk.CardGateway.Cards.Wire;

/// <summary><c>atUserIds</c> maps userId to display name.</summary>
public sealed record ImGroupOpenDeliverModel(
    string RobotCode,
    IReadOnlyDictionary<string, string>? AtUserIds = null,
    IReadOnlyList<string>? Recipients = null,
    IReadOnlyDictionary<string, string>? Extension = null);
