using System.Text.Json.Serialization.Metadata;

namespace DingTalk.CardGateway.Handlers.ParamsBinding;

/// <summary>What a member takes, in words for a message (<c>a whole number</c>, <c>a list of strings</c>).</summary>
internal static class TypeKinds
{
    private static readonly Type[] WholeNumbers =
        [typeof(int), typeof(long), typeof(short), typeof(sbyte), typeof(byte), typeof(uint), typeof(ulong), typeof(ushort)];

    private static readonly Type[] Fractions = [typeof(decimal), typeof(double), typeof(float)];

    /// <summary>The number types bound tolerantly (<see cref="TolerantNumberConverter{T}"/>).</summary>
    public static IEnumerable<Type> Numbers => WholeNumbers.Concat(Fractions);

    public static bool IsWholeNumber(Type type) => WholeNumbers.Contains(type);

    public static string Describe(Type type) => Describe(type, plural: false);

    private static string Describe(Type type, bool plural)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (OneOrManyConverterFactory.ElementOf(type) is { } element)
        {
            return plural ? "lists" : $"a list of {Describe(element, plural: true)}";
        }

        return type switch
        {
            _ when type == typeof(string) => plural ? "strings" : "a string",
            _ when type == typeof(bool) => plural ? "booleans" : "true or false",
            _ when IsWholeNumber(type) => plural ? "whole numbers" : "a whole number",
            _ when Fractions.Contains(type) => plural ? "numbers" : "a number",
            _ when type == typeof(DateOnly) => plural ? "dates (yyyy-MM-dd)" : "a date (yyyy-MM-dd)",
            _ when type == typeof(DateTime) || type == typeof(DateTimeOffset) => plural ? "dates and times (ISO 8601)" : "a date and time (ISO 8601)",
            _ when type == typeof(TimeOnly) => plural ? "times (HH:mm:ss)" : "a time (HH:mm:ss)",
            _ when type == typeof(Guid) => plural ? "GUIDs" : "a GUID",
            _ when type.IsEnum => $"{(plural ? "values among" : "one of")} {string.Join(", ", Enum.GetNames(type))}",
            _ when type == typeof(TimeSpan) => plural ? "durations (d.hh:mm:ss)" : "a duration (d.hh:mm:ss)",
            _ when type == typeof(char) => plural ? "single characters" : "a single character",
            _ when type == typeof(Uri) => plural ? "URLs" : "a URL",
            _ when DictionaryValueOf(type) is { } value => plural ? "objects" : $"an object of {Describe(value, plural: true)}",
            _ when ItemOf(type) is { } item => plural ? "lists" : $"a list of {Describe(item, plural: true)}",
            _ when CardParams.Options.GetTypeInfo(type).Kind != JsonTypeInfoKind.Object => plural ? $"values of type {type.Name}" : $"a value of type {type.Name}",
            _ => plural ? $"{type.Name} objects" : $"an object ({type.Name})",
        };
    }

    /// <summary>The value type of a dictionary member (bound from a JSON object), or null.</summary>
    public static Type? DictionaryValueOf(Type type) =>
        (Generic(type, typeof(IDictionary<,>)) ?? Generic(type, typeof(IReadOnlyDictionary<,>)))?[1];

    /// <summary>The item type of a collection member other than the lists bound one value or many (a set, say), or null.</summary>
    private static Type? ItemOf(Type type) =>
        type != typeof(string) && Generic(type, typeof(IEnumerable<>)) is { } arguments ? arguments[0] : null;

    private static Type[]? Generic(Type type, Type definition) =>
        (type.IsGenericType && type.GetGenericTypeDefinition() == definition ? type : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == definition))
            ?.GetGenericArguments();
}
