using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DingTalk.CardGateway.Handlers.ParamsBinding;

/// <summary>A number as a JSON number or as a string of one (<c>"3"</c>): DingTalk's form inputs send either.</summary>
internal sealed class TolerantNumberConverter<T> : JsonConverter<T>
    where T : struct, INumber<T>
{
    private static readonly NumberStyles Styles = TypeKinds.IsWholeNumber(typeof(T)) ? NumberStyles.Integer : NumberStyles.Float;

    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var read = reader.TokenType switch
        {
            JsonTokenType.Number => T.TryParse(reader.HasValueSequence ? reader.ValueSequence.ToArray().AsSpan() : reader.ValueSpan, Styles, CultureInfo.InvariantCulture, out var n) ? n : default(T?),
            JsonTokenType.String => T.TryParse(reader.GetString(), Styles, CultureInfo.InvariantCulture, out var s) ? s : default(T?),
            _ => default(T?),
        };
        return read is { } value && T.IsFinite(value) ? value : throw new JsonException(); // the path and the expected type are said by CardParams, never the value
    }

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
        writer.WriteRawValue(value.ToString(null, CultureInfo.InvariantCulture));
}
