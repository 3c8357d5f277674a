using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using DingTalk.CardGateway.Callbacks;

namespace DingTalk.CardGateway.Handlers.ParamsBinding;

/// <summary>
/// Binds a click's <c>params</c> to a handler's type with System.Text.Json, tolerant as DingTalk's forms need (numbers
/// and booleans as strings, one value for a list, an empty string for a nullable, unknown fields ignored), strict where C#
/// is (a <c>required</c> member or a record's parameter without a default must be there; a member not declared nullable
/// takes no null). A failure is a <see cref="CardParamsException"/> naming the path and the expected type, never the value.
/// </summary>
internal static class CardParams
{
    public static readonly JsonSerializerOptions Options = Create();

    public static T Bind<T>(JsonElement parameters)
    {
        try
        {
            return parameters.Deserialize<T>(Options)!;
        }
        catch (JsonException)
        {
            // STJ's message says where it stopped, not what was missing or expected, and its path may hold a dictionary's
            // key (a value); a converter's message may quote the value: the problem is found again here, in words of our own.
            throw Problem(parameters, typeof(T)) ?? new CardParamsException(typeof(T), "$", TypeKinds.Describe(typeof(T)), $"could not be bound to {typeof(T).Name}");
        }
    }

    /// <summary>The first thing in <paramref name="parameters"/> that does not bind to <paramref name="type"/>, the way <see cref="Options"/> binds.</summary>
    internal static CardParamsException? Problem(JsonElement parameters, Type type) => Find(type, parameters, "$", type, nullable: false);

    private static CardParamsException? Find(Type root, JsonElement value, string path, Type type, bool nullable)
    {
        if (Nullable.GetUnderlyingType(type) is { } underlying)
        {
            if (value.ValueKind == JsonValueKind.Null || value is { ValueKind: JsonValueKind.String } && value.GetString()!.Length == 0)
            {
                return null;
            }

            type = underlying;
        }

        if (OneOrManyConverterFactory.ElementOf(type) is { } element)
        {
            return FindInList(root, value, path, type, element);
        }

        var info = Options.GetTypeInfo(type);
        if (value.ValueKind == JsonValueKind.Null)
        {
            return nullable || (type.IsValueType && Reads(value, info)) ? null : Wrong(root, path, type, value);
        }

        if (info.Kind != JsonTypeInfoKind.Object)
        {
            return Reads(value, info) ? null : Wrong(root, path, type, value);
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            return Wrong(root, path, type, value);
        }

        foreach (var property in info.Properties)
        {
            if (property.Set is null && property.AssociatedParameter is null)
            {
                continue; // computed: never bound
            }

            var at = $"{path}{Segment(property.Name)}";
            if (!TryGetMember(value, property.Name, out var member))
            {
                if (property.IsRequired || property.AssociatedParameter is { IsMemberInitializer: false, HasDefaultValue: false })
                {
                    return new CardParamsException(root, at, TypeKinds.Describe(property.PropertyType), "is required");
                }

                continue;
            }

            var mayBeNull = property.AssociatedParameter?.IsNullable ?? property.IsSetNullable;
            if (Find(root, member, at, property.PropertyType, mayBeNull) is { } problem)
            {
                return problem;
            }
        }

        return null;
    }

    private static CardParamsException? FindInList(Type root, JsonElement value, string path, Type list, Type element)
    {
        var leaf = IsLeaf(element);
        var items = value.ValueKind == JsonValueKind.Array ? value.EnumerateArray().ToList() : [value];
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (item.ValueKind == JsonValueKind.Null)
            {
                continue; // left out
            }

            var problem = leaf
                ? Reads(item, Options.GetTypeInfo(element)) ? null : new CardParamsException(root, path, TypeKinds.Describe(list), $"must be {TypeKinds.Describe(list)}, not {ListKind(value, element)}")
                : Find(root, item, value.ValueKind == JsonValueKind.Array ? $"{path}[{i}]" : path, element, nullable: true);
            if (problem is not null)
            {
                return problem;
            }
        }

        return null;
    }

    /// <summary>A value read from one JSON token (a number, a date, an enum): not a list, an object or a dictionary.</summary>
    private static bool IsLeaf(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return OneOrManyConverterFactory.ElementOf(type) is null && Options.GetTypeInfo(type).Kind == JsonTypeInfoKind.None;
    }

    private static bool Reads(JsonElement value, JsonTypeInfo info)
    {
        try
        {
            _ = value.Deserialize(info);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static CardParamsException Wrong(Type root, string path, Type type, JsonElement value)
    {
        var expected = TypeKinds.Describe(type);
        return new CardParamsException(root, path, expected, $"must be {expected}, not {Kind(value, type)}");
    }

    /// <summary>
    /// The kind of a value that <paramref name="expected"/> does not take; for a string, whether it is empty or does not read
    /// as that type; for an object a dictionary member does not take, the kind of its first value that it does not (never the key).
    /// </summary>
    private static string Kind(JsonElement value, Type expected) =>
        value.ValueKind == JsonValueKind.Object && TypeKinds.DictionaryValueOf(Nullable.GetUnderlyingType(expected) ?? expected) is { } valueType
            && value.EnumerateObject().FirstOrDefault(p => !Reads(p.Value, Options.GetTypeInfo(valueType))) is { Value.ValueKind: not JsonValueKind.Undefined } odd
            ? $"an object holding {Kind(odd.Value, valueType)}"
        : value.ValueKind != JsonValueKind.String ? CardActionParser.Describe(value.ValueKind)
        : value.GetString()!.Length == 0 ? "an empty string"
        : expected == typeof(string) || !IsLeaf(expected) ? "a string"
        : "a string that does not read as one";

    /// <summary>The kind of a list member's value: one value, or an array and the kind of its first item the element type does not take.</summary>
    private static string ListKind(JsonElement value, Type element)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            return Kind(value, element);
        }

        var odd = value.EnumerateArray().First(item => item.ValueKind != JsonValueKind.Null && !Reads(item, Options.GetTypeInfo(element)));
        return $"an array holding {Kind(odd, element)}";
    }

    private static bool TryGetMember(JsonElement value, string name, out JsonElement member)
    {
        foreach (var candidate in value.EnumerateObject())
        {
            if (string.Equals(candidate.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                member = candidate.Value;
                return true;
            }
        }

        member = default;
        return false;
    }

    private static string Segment(string name) =>
        name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') ? $".{name}" : $"['{name.Replace("'", "\\'", StringComparison.Ordinal)}']";

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            NumberHandling = JsonNumberHandling.Strict, // the converters below read numbers from strings, and say nothing of the value
            RespectNullableAnnotations = true,
            RespectRequiredConstructorParameters = true,
            MaxDepth = 64,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { EmptyStringIsNullForNullableText } },
        };
        options.Converters.Add(new EmptyAsNullConverterFactory());
        options.Converters.Add(new OneOrManyConverterFactory());
        options.Converters.Add(TolerantStringConverter.Instance);
        options.Converters.Add(new TolerantBooleanConverter());
        foreach (var number in TypeKinds.Numbers)
        {
            options.Converters.Add((JsonConverter)Activator.CreateInstance(typeof(TolerantNumberConverter<>).MakeGenericType(number))!);
        }

        options.Converters.Add(new EnumByNameConverterFactory());
        options.MakeReadOnly();
        return options;
    }

    /// <summary>A <c>string?</c> member: an empty string binds as null, as it does for a nullable number or date.</summary>
    private static void EmptyStringIsNullForNullableText(JsonTypeInfo info)
    {
        foreach (var property in info.Properties)
        {
            if (property.PropertyType == typeof(string) && (property.AssociatedParameter?.IsNullable ?? property.IsSetNullable))
            {
                property.CustomConverter = TolerantStringConverter.EmptyIsNull;
            }
        }
    }
}
