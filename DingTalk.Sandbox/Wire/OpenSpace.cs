using System.Diagnostics.CodeAnalysis;

namespace DingTalk.Sandbox.Wire;

/// <summary>
/// One space named by an <c>openSpaceId</c> (<c>dtv1.card//IM_GROUP.cid…;IM_ROBOT.userId</c>) and the request
/// properties DingTalk needs for it.
/// </summary>
internal sealed record OpenSpace(string SpaceType, string SpaceId, string? SpaceModel, string DeliverModel)
{
    public const string Scheme = "dtv1.card//";

    private static readonly Dictionary<string, (string? SpaceModel, string DeliverModel)> Kinds = new(StringComparer.Ordinal)
    {
        ["IM_GROUP"] = ("imGroupOpenSpaceModel", "imGroupOpenDeliverModel"),
        ["IM_ROBOT"] = ("imRobotOpenSpaceModel", "imRobotOpenDeliverModel"),
        ["IM_SINGLE"] = ("imSingleOpenSpaceModel", "imSingleOpenDeliverModel"),
        ["ONE_BOX"] = ("topOpenSpaceModel", "topOpenDeliverModel"),
        ["CO_FEED"] = ("coFeedOpenSpaceModel", "coFeedOpenDeliverModel"),
        ["DOC"] = (null, "docOpenDeliverModel"),
    };

    public static bool TryParseAll(string openSpaceId, [NotNullWhen(true)] out List<OpenSpace>? spaces, [NotNullWhen(false)] out string? error)
    {
        spaces = null;
        if (!openSpaceId.StartsWith(Scheme, StringComparison.Ordinal))
        {
            error = $"openSpaceId must look like {Scheme}IM_GROUP.<openConversationId> (spaces joined by ';'), not '{openSpaceId}'";
            return false;
        }

        var parsed = new List<OpenSpace>();
        foreach (var part in openSpaceId[Scheme.Length..].Split(';'))
        {
            var dot = part.IndexOf('.', StringComparison.Ordinal);
            if (dot <= 0 || dot == part.Length - 1)
            {
                error = $"openSpaceId part '{part}' must be SPACE_TYPE.spaceId";
                return false;
            }

            var type = part[..dot];
            if (!Kinds.TryGetValue(type, out var kind))
            {
                error = $"openSpaceId names an unknown space type '{type}' (known: {string.Join(", ", Kinds.Keys)})";
                return false;
            }

            parsed.Add(new OpenSpace(type, part[(dot + 1)..], kind.SpaceModel, kind.DeliverModel));
        }

        spaces = parsed;
        error = null;
        return true;
    }
}
