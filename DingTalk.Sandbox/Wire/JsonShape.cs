using System.Text.Json;

namespace DingTalk.Sandbox.Wire;

/// <summary>
/// What one JSON value must look like. <see cref="Check"/> answers the first mismatch as a 400 naming the
/// field by its path (<c>cardData.cardParamMap.count</c>), or null when the value fits.
/// </summary>
internal abstract class JsonShape
{
    public static JsonShape Text { get; } = new KindShape("a string", JsonValueKind.String);

    public static JsonShape Flag { get; } = new KindShape("a boolean", JsonValueKind.True, JsonValueKind.False);

    public static JsonShape Number { get; } = new KindShape("a number", JsonValueKind.Number);

    /// <summary>An object whose values are all strings, like <c>cardParamMap</c>.</summary>
    public static JsonShape TextMap { get; } = new MapShape(Text);

    public static JsonShape TextList { get; } = new ListShape(Text);

    /// <summary>A string that itself holds a JSON object (robot cards' <c>cardData</c>, <c>singleChatReceiver</c>, …).</summary>
    public static JsonShape JsonObjectText { get; } = new JsonTextShape(JsonValueKind.Object);

    /// <summary>A string that itself holds a JSON array (<c>atUserListJson</c>, <c>receiverListJson</c>).</summary>
    public static JsonShape JsonArrayText { get; } = new JsonTextShape(JsonValueKind.Array);

    public abstract SandboxAnswer? Check(JsonElement value, string path);

    public static JsonShape MapOf(JsonShape values) => new MapShape(values);

    public static JsonShape ListOf(JsonShape items) => new ListShape(items);

    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    public static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    protected static SandboxAnswer WrongType(string path, string expected, JsonElement value) =>
        SandboxAnswer.Invalid($"{path} must be {expected}, not {Describe(value.ValueKind)}");

    private sealed class KindShape(string description, params JsonValueKind[] kinds) : JsonShape
    {
        public override SandboxAnswer? Check(JsonElement value, string path) =>
            kinds.Contains(value.ValueKind) ? null : WrongType(path, description, value);
    }

    private sealed class MapShape(JsonShape values) : JsonShape
    {
        public override SandboxAnswer? Check(JsonElement value, string path)
        {
            if (value.ValueKind != JsonValueKind.Object)
            {
                return WrongType(path, "an object", value);
            }

            foreach (var entry in value.EnumerateObject())
            {
                if (values.Check(entry.Value, Join(path, entry.Name)) is { } error)
                {
                    return error;
                }
            }

            return null;
        }
    }

    private sealed class ListShape(JsonShape items) : JsonShape
    {
        public override SandboxAnswer? Check(JsonElement value, string path)
        {
            if (value.ValueKind != JsonValueKind.Array)
            {
                return WrongType(path, "an array", value);
            }

            var index = 0;
            foreach (var item in value.EnumerateArray())
            {
                if (items.Check(item, $"{path}[{index++}]") is { } error)
                {
                    return error;
                }
            }

            return null;
        }
    }

    private sealed class JsonTextShape(JsonValueKind inner) : JsonShape
    {
        public override SandboxAnswer? Check(JsonElement value, string path)
        {
            var expected = $"a string holding a JSON {(inner == JsonValueKind.Object ? "object" : "array")}";
            if (value.ValueKind != JsonValueKind.String)
            {
                return WrongType(path, expected, value);
            }

            try
            {
                using var document = JsonDocument.Parse(value.GetString()!, new JsonDocumentOptions { AllowDuplicateProperties = false });
                return document.RootElement.ValueKind == inner
                    ? null
                    : SandboxAnswer.Invalid($"{path} must be {expected}, but it holds {Describe(document.RootElement.ValueKind)}");
            }
            catch (JsonException)
            {
                return SandboxAnswer.Invalid($"{path} must be {expected}, but it is not JSON");
            }
        }
    }
}
