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

    /// <summary>
    /// <paramref name="values"/> for everyone, and — on a normal robot card, whose StandardCard shows no variables —
    /// its <c>contents</c> with the markdown block <paramref name="blockId"/> showing <paramref name="markdown"/> of
    /// <paramref name="state"/>, so people see the change. The block is rebuilt from the card as the click found it; a
    /// card that places a block with that id itself decides where it shows. Unchanged on an advanced card (where
    /// <paramref name="markdown"/> is not called), and on a robot card the gateway has no copy of (a <c>contents</c>
    /// built from nothing would replace the real one).
    /// </summary>
    public static CardValues WithBlockOnRobotCard<TState>(this CardValues values, CardActionContext context, string blockId, TState state, Func<TState, string> markdown) =>
        context.CardKind == CardKind.Robot && context.Card?.PublicData.GetValueOrDefault(CardUpdates.RobotCardDataKey) is { } current
            ? values.With("contents", ContentsWithText(current, blockId, markdown(state)))
            : values;

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
