using System.Text.Json;

namespace DingTalk.CardGateway.Cards;

/// <summary>
/// The one place that turns ordinary JSON into DingTalk's string-only <c>cardParamMap</c>:
/// strings stay as they are, numbers and booleans become their JSON text, arrays and objects are
/// JSON-encoded into the string, and null becomes the empty string (DingTalk has no null).
/// </summary>
public static class CardParamMapEncoder
{
    public static Dictionary<string, string> Encode(IReadOnlyDictionary<string, JsonElement>? data)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (data is null)
        {
            return map;
        }

        foreach (var (key, value) in data)
        {
            map[key] = EncodeValue(value);
        }

        return map;
    }

    /// <summary>Encodes a JSON object's properties; anything but an object is refused.</summary>
    public static Dictionary<string, string> Encode(JsonElement obj)
    {
        if (obj.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException($"Card data must be a JSON object, not {obj.ValueKind}.", nameof(obj));
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in obj.EnumerateObject())
        {
            map[property.Name] = EncodeValue(property.Value);
        }

        return map;
    }

    /// <summary>
    /// Encoded (stored) values as values to send again: each a JSON string, which <see cref="Encode(IReadOnlyDictionary{string, JsonElement}?)"/>
    /// leaves as it is — a card's stored data resent whole, or a user's stored private data under new values.
    /// </summary>
    public static Dictionary<string, JsonElement> AsValues(IReadOnlyDictionary<string, string> encoded) =>
        encoded.ToDictionary(p => p.Key, p => JsonSerializer.SerializeToElement(p.Value), StringComparer.Ordinal);

    public static string EncodeValue(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Null or JsonValueKind.Undefined => "",
        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        _ => JsonSerializer.Serialize(value), // compact, whatever whitespace the caller used
    };
}
