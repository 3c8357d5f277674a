using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using DingTalk.CardGateway.Hosting;

namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// Card variables in ordinary JSON, e.g. <c>CardValues.Of("status", "approved").With("count", 3)</c>. The gateway
/// turns them into DingTalk's string-only <c>cardParamMap</c> (numbers and booleans as their text, objects as JSON).
/// </summary>
/// <remarks>
/// Immutable: <see cref="With{T}"/> returns a copy. The copy is a plain dictionary, not an immutable one: a card has
/// a few dozen variables at most, and building immutable trees cost more than copying them on the callback path.
/// </remarks>
[SuppressMessage("Naming", "CA1710", Justification = "Named for what it holds, a card's values; being a dictionary is how the gateway reads it.")]
public sealed class CardValues : IReadOnlyDictionary<string, JsonElement>
{
    private readonly Dictionary<string, JsonElement> _values;

    private CardValues(Dictionary<string, JsonElement> values) => _values = values;

    public static CardValues Empty { get; } = new(new Dictionary<string, JsonElement>(StringComparer.Ordinal));

    public int Count => _values.Count;

    public IEnumerable<string> Keys => _values.Keys;

    public IEnumerable<JsonElement> Values => _values.Values;

    public JsonElement this[string key] => _values[key];

    public static CardValues Of<T>(string key, T value) => Empty.With(key, value);

    public static CardValues From(IEnumerable<KeyValuePair<string, JsonElement>> values)
    {
        var copy = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var (key, value) in values)
        {
            copy[key] = value.Clone();
        }

        return new(copy);
    }

    /// <summary>A copy with <paramref name="key"/> set to <paramref name="value"/> (any JSON-serializable value).</summary>
    public CardValues With<T>(string key, T value) =>
        new(new Dictionary<string, JsonElement>(_values, StringComparer.Ordinal)
        {
            [key] = value is JsonElement element ? element.Clone() : JsonSerializer.SerializeToElement(value, GatewayJson.Options),
        });

    public bool ContainsKey(string key) => _values.ContainsKey(key);

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out JsonElement value) => _values.TryGetValue(key, out value);

    public IEnumerator<KeyValuePair<string, JsonElement>> GetEnumerator() => _values.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
