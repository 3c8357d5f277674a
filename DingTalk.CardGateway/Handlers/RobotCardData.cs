using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// A normal robot card's <c>cardData</c> is one StandardCard JSON object (header, contents, …); DingTalk merges an
/// update into it by top-level key. This mirrors that merge for the gateway's stored copy, and finds text blocks.
/// </summary>
public static class RobotCardData
{
    /// <summary>
    /// The top-level keys of <paramref name="changes"/> written over <paramref name="current"/> (a JSON object, or
    /// nothing), then each of <paramref name="blocks"/> (block id → text) shown in its markdown block of <c>contents</c>.
    /// </summary>
    public static string Merge(string? current, IReadOnlyDictionary<string, JsonElement> changes, IReadOnlyDictionary<string, string>? blocks = null)
    {
        var merged = Parse(current);
        foreach (var (key, value) in changes)
        {
            merged[key] = JsonNode.Parse(value.GetRawText());
        }

        if (blocks is { Count: > 0 })
        {
            var contents = merged["contents"] as JsonArray ?? [];
            foreach (var (blockId, text) in blocks)
            {
                ShowText(contents, blockId, text);
            }

            merged["contents"] = contents;
        }

        return merged.ToJsonString();
    }

    /// <summary>The <c>contents</c> of a StandardCard JSON object, if it has any.</summary>
    public static JsonElement? Contents(string? card) =>
        Parse(card)["contents"] is JsonArray contents ? JsonSerializer.SerializeToElement(contents) : null;

    /// <summary>
    /// <paramref name="text"/> (a user id, a poll option) to show as it is in a markdown block: the characters that
    /// would emphasise, link, quote or break it are escaped, line breaks become spaces.
    /// </summary>
    public static string EscapeMarkdown(string text)
    {
        var escaped = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            if (c is '\\' or '`' or '*' or '_' or '[' or ']' or '#' or '|' or '<' or '>' or '~')
            {
                escaped.Append('\\');
            }

            escaped.Append(c is '\r' or '\n' ? ' ' : c);
        }

        return escaped.ToString();
    }

    private static void ShowText(JsonArray contents, string blockId, string text)
    {
        var block = contents.OfType<JsonObject>().FirstOrDefault(b =>
            b["id"] is JsonValue id && id.TryGetValue<string>(out var value) && value == blockId);
        if (block is null)
        {
            block = new JsonObject { ["type"] = "markdown", ["id"] = blockId };
            contents.Add(block);
        }

        block["text"] = text;
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
