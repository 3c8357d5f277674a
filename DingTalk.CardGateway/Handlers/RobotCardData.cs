using System.Text.Json;
using System.Text.Json.Nodes;

namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// A normal robot card's <c>cardData</c> is one StandardCard JSON object (header, contents, …); DingTalk merges an
/// update into it by top-level key. This mirrors that merge for the gateway's stored copy, and finds text blocks.
/// </summary>
public static class RobotCardData
{
    /// <summary>The top-level keys of <paramref name="changes"/> written over <paramref name="current"/> (a JSON object, or nothing).</summary>
    public static string Merge(string? current, IReadOnlyDictionary<string, JsonElement> changes)
    {
        var merged = Parse(current);
        foreach (var (key, value) in changes)
        {
            merged[key] = JsonNode.Parse(value.GetRawText());
        }

        return merged.ToJsonString();
    }

    /// <summary>
    /// The <c>contents</c> array with the block whose <c>id</c> is <paramref name="blockId"/> showing
    /// <paramref name="text"/>; a markdown block with that id is appended when there is none.
    /// </summary>
    public static JsonElement ContentsWithText(string? current, string blockId, string text)
    {
        var contents = Parse(current)["contents"] as JsonArray ?? [];
        var block = contents.OfType<JsonObject>().FirstOrDefault(b =>
            b["id"] is JsonValue id && id.TryGetValue<string>(out var value) && value == blockId);
        if (block is null)
        {
            block = new JsonObject { ["type"] = "markdown", ["id"] = blockId };
            contents.Add(block);
        }

        block["text"] = text;
        return JsonSerializer.SerializeToElement(contents);
    }

    private static JsonObject Parse(string? json)
    {
        try
        {
            return json is null ? [] : JsonNode.Parse(json) as JsonObject ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }
}
