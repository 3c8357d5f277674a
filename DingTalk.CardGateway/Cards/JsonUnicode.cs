using System.Runtime.InteropServices;
using System.Text.Json;

namespace DingTalk.CardGateway.Cards;

/// <summary>
/// JSON may escape half a surrogate pair (<c>"\ud800"</c>), which no .NET string or UTF-8 text can hold: a value
/// holding one fails wherever it is read or written again (the answer, the outbox, DingTalk), so it is refused where it
/// comes in — a callback's <c>params</c>, an admin call's card data, a handler's result.
/// </summary>
public static class JsonUnicode
{
    /// <summary>Whether every string in <paramref name="value"/>, property names too, is valid Unicode.</summary>
    public static bool IsValid(JsonElement value)
    {
        try
        {
            Read(value);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary><see cref="IsValid(JsonElement)"/> for every value of <paramref name="values"/>.</summary>
    public static bool IsValid(IEnumerable<JsonElement>? values) => values?.All(IsValid) ?? true;

    /// <summary><see cref="IsValid(JsonElement)"/> for every value of every user's private data.</summary>
    public static bool IsValid(IEnumerable<IReadOnlyDictionary<string, JsonElement>>? users) => users?.All(user => IsValid(user.Values)) ?? true;

    /// <summary>The 400's sentence for <paramref name="field"/>.</summary>
    public static string Refusal(string field) => $"{field} holds a string escape that is not valid Unicode (an unpaired surrogate).";

    /// <summary>Reads every escaped string (only an escape can spell half a pair); throws on an unpaired surrogate.</summary>
    private static void Read(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                {
                    if (JsonMarshal.GetRawUtf8PropertyName(property).Contains((byte)'\\'))
                    {
                        _ = property.Name;
                    }

                    Read(property.Value);
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in value.EnumerateArray())
                {
                    Read(item);
                }

                break;
            case JsonValueKind.String when JsonMarshal.GetRawUtf8Value(value).Contains((byte)'\\'):
                _ = value.GetString();
                break;
        }
    }
}
