using System.Text.Json;
using System.Text.Json.Serialization;

namespace DingTalk.CardGateway.Handlers.ParamsBinding;

/// <summary>
/// An enum from one of its names, in any case, as a select sends it: not a number (<c>7</c>, <c>"7"</c>), which would
/// bind a value the enum does not define, nor a list of names (<c>"Low,High"</c>), which would bind their combination.
/// </summary>
internal sealed class EnumByNameConverterFactory : JsonConverterFactory
{
    private static readonly JsonStringEnumConverter ByName = new(namingPolicy: null, allowIntegerValues: false);

    public override bool CanConvert(Type typeToConvert) => typeToConvert.IsEnum;

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        (JsonConverter)Activator.CreateInstance(typeof(OneName<>).MakeGenericType(typeToConvert), ByName.CreateConverter(typeToConvert, options))!;

    private sealed class OneName<T>(JsonConverter inner) : JsonConverter<T>
        where T : struct, Enum
    {
        private readonly JsonConverter<T> _inner = (JsonConverter<T>)inner;

        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.String && reader.GetString()!.Contains(',', StringComparison.Ordinal)
                ? throw new JsonException() // the path and the expected names are said by CardParams, never the value
                : _inner.Read(ref reader, typeToConvert, options);

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => _inner.Write(writer, value, options);
    }
}
