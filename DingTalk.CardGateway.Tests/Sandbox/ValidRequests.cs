using System.Text.Json.Nodes;

namespace DingTalk.CardGateway.Tests.SandboxTests;

/// <summary>Request bodies DingTalk accepts, fresh on every call so a test can break exactly one thing.</summary>
public static class ValidRequests
{
    public const string GroupSpace = "dtv1.card//IM_GROUP.cidGroup1==";

    public static JsonObject CreateAndDeliver(string outTrackId = "card-1", string openSpaceId = GroupSpace) => new()
    {
        ["cardTemplateId"] = "template-1.schema",
        ["outTrackId"] = outTrackId,
        ["callbackType"] = "STREAM",
        ["cardData"] = new JsonObject { ["cardParamMap"] = new JsonObject { ["title"] = "Lunch?", ["count"] = "0" } },
        ["privateData"] = new JsonObject
        {
            ["user-1"] = new JsonObject { ["cardParamMap"] = new JsonObject { ["voted"] = "false", ["choice"] = "" } },
        },
        ["openSpaceId"] = openSpaceId,
        ["imGroupOpenSpaceModel"] = new JsonObject { ["supportForward"] = true },
        ["imGroupOpenDeliverModel"] = new JsonObject { ["robotCode"] = "robot-1" },
        ["userIdType"] = 1,
    };

    public static JsonObject RobotSpaceCreateAndDeliver(string outTrackId = "card-robot") => new()
    {
        ["cardTemplateId"] = "template-1.schema",
        ["outTrackId"] = outTrackId,
        ["cardData"] = new JsonObject { ["cardParamMap"] = new JsonObject { ["title"] = "Hi" } },
        ["openSpaceId"] = "dtv1.card//IM_ROBOT.user-1",
        ["imRobotOpenSpaceModel"] = new JsonObject { ["supportForward"] = false },
        ["imRobotOpenDeliverModel"] = new JsonObject { ["spaceType"] = "IM_ROBOT", ["robotCode"] = "robot-1" },
    };

    public static JsonObject UpdateCard(string outTrackId, JsonObject cardParamMap, bool? byKey = null)
    {
        var body = new JsonObject
        {
            ["outTrackId"] = outTrackId,
            ["cardData"] = new JsonObject { ["cardParamMap"] = cardParamMap },
        };
        if (byKey is { } merge)
        {
            body["cardUpdateOptions"] = new JsonObject { ["updateCardDataByKey"] = merge };
        }

        return body;
    }

    public static JsonObject Streaming(string outTrackId, string guid, string content, bool isFull = true, bool isFinalize = false) => new()
    {
        ["outTrackId"] = outTrackId,
        ["guid"] = guid,
        ["key"] = "answer",
        ["content"] = content,
        ["isFull"] = isFull,
        ["isFinalize"] = isFinalize,
        ["isError"] = false,
    };

    public static JsonObject RegisterCallback(string routeKey, string url, bool forceUpdate = false) => new()
    {
        ["callbackRouteKey"] = routeKey,
        ["callbackUrl"] = url,
        ["apiSecret"] = "secret-" + routeKey,
        ["forceUpdate"] = forceUpdate,
    };

    public static JsonObject RobotSend(string cardBizId = "biz-1") => new()
    {
        ["cardTemplateId"] = "StandardCard",
        ["cardBizId"] = cardBizId,
        ["robotCode"] = "robot-1",
        ["openConversationId"] = "cidGroup1==",
        ["cardData"] = """{"config":{"autoLayout":true},"header":{"title":{"type":"text","text":"Hi"}},"contents":[]}""",
        ["callbackUrl"] = "https://gateway.example.test/callbacks/robot",
        ["userIdPrivateDataMap"] = """{"user-1":{"voted":"false"}}""",
    };
}
