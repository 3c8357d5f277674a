using System.Text.Json;
using System.Text.Json.Serialization;

namespace DingTalk.CardGateway.Handlers.ParamsBinding;

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
