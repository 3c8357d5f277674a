using DingTalk.CardGateway.Cards.Wire;

namespace DingTalk.CardGateway.Cards;

/// <summary>
/// DingTalk's <c>openSpaceId</c> (<c>dtv1.card//IM_GROUP.cid…</c>, spaces joined by <c>;</c>) with the
/// open-space and deliver models each named space requires.
/// </summary>
public sealed record OpenSpace(
    string OpenSpaceId,
    ImGroupOpenSpaceModel? ImGroupOpenSpaceModel,
    ImGroupOpenDeliverModel? ImGroupOpenDeliverModel,
    ImRobotOpenSpaceModel? ImRobotOpenSpaceModel,
    ImRobotOpenDeliverModel? ImRobotOpenDeliverModel)
{
    public const string Prefix = "dtv1.card//";

    public static OpenSpace For(CardTarget target, string robotCode, IReadOnlyList<string>? atUserIds = null)
    {
        if (target.IsGroup)
        {
            var at = atUserIds is { Count: > 0 } ? atUserIds.Distinct().ToDictionary(id => id, id => id) : null;
            return new OpenSpace(
                $"{Prefix}IM_GROUP.{target.OpenConversationId}",
                new ImGroupOpenSpaceModel(SupportForward: true),
                new ImGroupOpenDeliverModel(robotCode, at),
                null,
                null);
        }

        if (target.UserIds is not { Count: > 0 } users)
        {
            throw new ArgumentException("A card target needs openConversationId or at least one userId.", nameof(target));
        }

        return new OpenSpace(
            Prefix + string.Join(';', users.Distinct().Select(u => $"IM_ROBOT.{u}")),
            null,
            null,
            new ImRobotOpenSpaceModel(SupportForward: true),
            new ImRobotOpenDeliverModel("IM_ROBOT", robotCode));
    }
}
