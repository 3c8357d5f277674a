using System.Text.Json;
using System.Text.Json.Serialization;

namespace DingTalk.CardGateway.Handlers.ParamsBinding;

/// <summary>
/// A list member (<c>IReadOnlyList&lt;T&gt;</c>, <c>List&lt;T&gt;</c>, <c>T[]</c>, …) takes an array or one value, as a form's
/// multi-select or user picker sends one or several: one value is a list of one, null an empty list, and nulls in an array
/// are left out — as <see cref="CardActionContext.ParamValues"/> reads them.
/// </summary>
internal sealed class OneOrManyConverterFactory : JsonConverterFactory
{
    private static readonly Type[] ListInterfaces =
        [typeof(IReadOnlyList<>), typeof(IReadOnlyCollection<>), typeof(IEnumerable<>), typeof(IList<>), typeof(ICollection<>), typeof(List<>)];

    /// <summary>The element type of a list member this binds, or null.</summary>
    public static Type? ElementOf(Type type) =>
        type.IsArray && type.GetArrayRank() == 1 ? type.GetElementType()
        : type.IsGenericType && ListInterfaces.Contains(type.GetGenericTypeDefinition()) ? type.GetGenericArguments()[0]
        : null;

    public override bool CanConvert(Type typeToConvert) => ElementOf(typeToConvert) is not null;

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options)
    {
        var element = ElementOf(typeToConvert)!;
        return (JsonConverter)Activator.CreateInstance(
            typeof(OneOrManyConverter<,>).MakeGenericType(typeToConvert, element), options.GetConverter(element), typeToConvert.IsArray)!;
    }

    private sealed class OneOrManyConverter<TList, T>(JsonConverter element, bool isArray) : JsonConverter<TList>
        where TList : IEnumerable<T>
    {
        private readonly JsonConverter<T> _element = (JsonConverter<T>)element;

        public override bool HandleNull => true;

        public override TList Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var items = new List<T>();
            if (reader.TokenType == JsonTokenType.StartArray)
            {
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    Add(ref reader, items, options);
                }
            }
            else
            {
                Add(ref reader, items, options);
            }

            return (TList)(isArray ? items.ToArray() : (object)items);
        }

        public override void Write(Utf8JsonWriter writer, TList value, JsonSerializerOptions options)
        {
            writer.WriteStartArray();
            foreach (var item in value)
            {
                _element.Write(writer, item, options);
            }

            writer.WriteEndArray();
        }

        private void Add(ref Utf8JsonReader reader, List<T> items, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.Null && _element.Read(ref reader, typeof(T), options) is { } item)
            {
                items.Add(item);
            }
        }
    }
}
