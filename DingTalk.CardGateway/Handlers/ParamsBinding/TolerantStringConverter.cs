using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DingTalk.CardGateway.Handlers.ParamsBinding;

/// <summary>A string, or a number or boolean as its JSON text (as <see cref="CardActionContext.Param"/> reads it); not an object or array.</summary>
internal sealed class TolerantStringConverter(bool emptyIsNull) : JsonConverter<string>
{
    public static readonly TolerantStringConverter Instance = new(emptyIsNull: false);

    /// <summary>For a member that may be null (<c>string?</c>): an empty string binds as null, as for a nullable number.</summary>
    public static readonly TolerantStringConverter EmptyIsNull = new(emptyIsNull: true);

    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString() is { Length: 0 } && emptyIsNull ? null : reader.GetString(),
        JsonTokenType.Number => Encoding.UTF8.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray().AsSpan() : reader.ValueSpan),
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        _ => throw new JsonException(),
    };

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}
