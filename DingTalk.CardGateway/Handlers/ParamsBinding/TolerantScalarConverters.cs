using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Text;
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

/// <summary><c>true</c>/<c>false</c>, or a string of one (<c>"true"</c>, any case).</summary>
internal sealed class TolerantBooleanConverter : JsonConverter<bool>
{
    public override bool Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        JsonTokenType.String when bool.TryParse(reader.GetString(), out var value) => value,
        _ => throw new JsonException(),
    };

    public override void Write(Utf8JsonWriter writer, bool value, JsonSerializerOptions options) => writer.WriteBooleanValue(value);
}

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

/// <summary>A nullable value (<c>int?</c>, <c>DateOnly?</c>, an enum): null or an empty string (a form field left empty) bind as null.</summary>
internal sealed class EmptyAsNullConverterFactory : JsonConverterFactory
{
    public override bool CanConvert(Type typeToConvert) => Nullable.GetUnderlyingType(typeToConvert) is not null;

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options)
    {
        var underlying = Nullable.GetUnderlyingType(typeToConvert)!;
        return (JsonConverter)Activator.CreateInstance(typeof(EmptyAsNullConverter<>).MakeGenericType(underlying), options.GetConverter(underlying))!;
    }

    private sealed class EmptyAsNullConverter<T>(JsonConverter inner) : JsonConverter<T?>
        where T : struct
    {
        private readonly JsonConverter<T> _inner = (JsonConverter<T>)inner;

        public override bool HandleNull => true;

        public override T? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null || (reader.TokenType == JsonTokenType.String && reader.ValueSpan.IsEmpty && !reader.HasValueSequence)
                ? null
                : _inner.Read(ref reader, typeof(T), options);

        public override void Write(Utf8JsonWriter writer, T? value, JsonSerializerOptions options)
        {
            if (value is { } v)
            {
                _inner.Write(writer, v, options);
            }
            else
            {
                writer.WriteNullValue();
            }
        }
    }
}
