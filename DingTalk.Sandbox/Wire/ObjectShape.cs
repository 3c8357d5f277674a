using System.Text.Json;

namespace DingTalk.Sandbox.Wire;

/// <summary>One property of an <see cref="ObjectShape"/>, named exactly as DingTalk's SDK models name it.</summary>
internal sealed record Field(string Name, JsonShape Shape, bool IsRequired, bool MayBeEmpty = false)
{
    public static Field Required(string name, JsonShape shape) => new(name, shape, true);

    /// <summary>Required, but an empty string is a value (streaming <c>content</c>).</summary>
    public static Field RequiredMayBeEmpty(string name, JsonShape shape) => new(name, shape, true, true);

    public static Field Optional(string name, JsonShape shape) => new(name, shape, false);
}

/// <summary>
/// A JSON object with a closed list of properties: an unknown name is refused (so a misspelt field cannot
/// silently vanish), a null counts as absent, and a required string may not be empty.
/// </summary>
internal sealed class ObjectShape(params Field[] fields) : JsonShape
{
    private readonly Dictionary<string, Field> _fields = fields.ToDictionary(f => f.Name, StringComparer.Ordinal);

    public override SandboxAnswer? Check(JsonElement value, string path)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            return WrongType(path.Length == 0 ? "body" : path, "an object", value);
        }

        foreach (var property in value.EnumerateObject())
        {
            if (!_fields.TryGetValue(property.Name, out var field))
            {
                var allowed = string.Join(", ", _fields.Keys.Order(StringComparer.Ordinal));
                return SandboxAnswer.Invalid(
                    $"unknown property '{Join(path, property.Name)}' (allowed{(path.Length == 0 ? "" : " in " + path)}: {allowed})");
            }

            if (property.Value.ValueKind != JsonValueKind.Null && field.Shape.Check(property.Value, Join(path, property.Name)) is { } error)
            {
                return error;
            }
        }

        foreach (var field in _fields.Values)
        {
            var present = field.MayBeEmpty ? value.TryGetValue(field.Name, out _) : value.HasValue(field.Name);
            if (field.IsRequired && !present)
            {
                return SandboxAnswer.Missing(Join(path, field.Name));
            }
        }

        return null;
    }
}
