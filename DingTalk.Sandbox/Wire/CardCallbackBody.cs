using System.Text.Json.Nodes;

namespace DingTalk.Sandbox.Wire;

/// <summary>What DingTalk sends when a user clicks a card (dingtalk-wire.md §2): the same object over HTTP and as a Stream frame's <c>data</c>.</summary>
internal static class CardCallbackBody
{
    /// <summary>An advanced card's <c>actionCallback</c>, its <c>content</c> (and older twin <c>value</c>) a JSON string.</summary>
    public static JsonObject Advanced(SandboxCard card, string userId, JsonNode? parameters)
    {
        var content = Content(parameters);
        return new JsonObject
        {
            ["extension"] = "{}",
            ["corpId"] = "dingsandboxcorp",
            ["spaceType"] = "im",
            ["userIdType"] = 1,
            ["type"] = "actionCallback",
            ["userId"] = userId,
            ["content"] = content,
            ["spaceId"] = card.Deliveries.Count > 0 ? card.Deliveries[0].SpaceId : "",
            ["outTrackId"] = card.OutTrackId,
            ["value"] = content,
        };
    }

    /// <summary>A normal robot card's callback: named by <c>cardBizId</c>, with only the older <c>value</c>.</summary>
    public static JsonObject Robot(string cardBizId, string userId, JsonNode? parameters) => new()
    {
        ["cardBizId"] = cardBizId,
        ["userId"] = userId,
        ["corpId"] = "dingsandboxcorp",
        ["value"] = Content(parameters),
    };

    private static string Content(JsonNode? parameters) => new JsonObject
    {
        ["cardPrivateData"] = new JsonObject
        {
            ["actionIds"] = new JsonArray("sandbox_button"),
            ["params"] = parameters?.DeepClone() ?? new JsonObject(),
        },
    }.ToJsonString();
}
