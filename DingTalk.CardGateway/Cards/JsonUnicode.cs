using System.Runtime.InteropServices;
using System.Text.Json;

namespace DingTalk.CardGateway.Cards;

/// <summary>
/// JSON may escape half a surrogate pair (<c>"\ud800"</c>), which no .NET string or UTF-8 text can hold: a value
/// holding one fails wherever it is read or written again (the answer, the outbox, DingTalk), so it is refused where it
/// comes in.
/// </summary>
public static class JsonUnicode
{
    /// <summary>Whether every string in <paramref name="value"/>, property names too, is valid Unicode.</summary>
    public static bool IsValid(JsonElement value)
    {
        try
        {
            return Check(value);
        }
        catch (InvalidOperationException)
        {
            return false;
        }

        static bool Check(JsonElement value)
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var property in value.EnumerateObject())
                    {
                        if (JsonMarshal.GetRawUtf8PropertyName(property).Contains((byte)'\\'))
                        {
                            _ = property.Name; // throws on an unpaired surrogate
                        }

                        if (!Check(property.Value))
                        {
                            return false;
                        }
                    }

                    return true;
                case JsonValueKind.Array:
                    foreach (var item in value.EnumerateArray())
                    {
                        if (!Check(item))
                        {
                            return false;
                        }
                    }

                    return true;
                case JsonValueKind.String when JsonMarshal.GetRawUtf8Value(value).Contains((byte)'\\'): // only an escape spells half a pair
                    _ = value.GetString();
                    return true;
                default:
                    return true;
            }
        }
    }

    /// <summary><see cref="IsValid(JsonElement)"/> for every value of <paramref name="values"/>.</summary>
    public static bool IsValid(IEnumerable<JsonElement>? values) => values?.All(IsValid) ?? true;
}
