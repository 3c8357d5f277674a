using System.Text.Json;

namespace DingTalk.Sandbox.Wire;

/// <summary>Reads of an already shape-checked body: absent and null read as null.</summary>
internal static class JsonElementExtensions
{
    public static bool TryGetValue(this JsonElement obj, string name, out JsonElement value) =>
        obj.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    /// <summary>Present, not null, and not an empty string.</summary>
    public static bool HasValue(this JsonElement obj, string name) =>
        obj.TryGetValue(name, out var value) && !(value.ValueKind == JsonValueKind.String && value.GetString()!.Length == 0);

    public static string? Text(this JsonElement obj, string name) =>
        obj.TryGetValue(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static bool? Flag(this JsonElement obj, string name) =>
        obj.TryGetValue(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : null;

    public static JsonElement? Child(this JsonElement obj, string name) =>
        obj.TryGetValue(name, out var value) ? value : null;

    /// <summary>An object of strings (already checked) as a dictionary.</summary>
    public static Dictionary<string, string> ToTextMap(this JsonElement obj)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in obj.EnumerateObject())
        {
            map[entry.Name] = entry.Value.GetString()!;
        }

        return map;
    }
}
