using System.Collections;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using DingTalk.CardGateway.Hosting;

namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// Card variables in ordinary JSON, e.g. <c>CardValues.Of("status", "approved").With("count", 3)</c>. The gateway
/// turns them into DingTalk's string-only <c>cardParamMap</c> (numbers and booleans as their text, objects as JSON).
/// </summary>
[SuppressMessage("Naming", "CA1710", Justification = "Named for what it holds, a card's values; being a dictionary is how the gateway reads it.")]
public sealed class CardValues : IReadOnlyDictionary<string, JsonElement>
{
    private readonly ImmutableDictionary<string, JsonElement> _values;

    private CardValues(ImmutableDictionary<string, JsonElement> values) => _values = values;

    public static CardValues Empty { get; } = new(ImmutableDictionary.Create<string, JsonElement>(StringComparer.Ordinal));

    public int Count => _values.Count;

    public IEnumerable<string> Keys => _values.Keys;

    public IEnumerable<JsonElement> Values => _values.Values;

    public JsonElement this[string key] => _values[key];

    public static CardValues Of<T>(string key, T value) => Empty.With(key, value);

    public static CardValues From(IEnumerable<KeyValuePair<string, JsonElement>> values) =>
        new(Empty._values.SetItems(values.Select(v => KeyValuePair.Create(v.Key, v.Value.Clone()))));

    /// <summary>A copy with <paramref name="key"/> set to <paramref name="value"/> (any JSON-serializable value).</summary>
    public CardValues With<T>(string key, T value) =>
        new(_values.SetItem(key, value is JsonElement element ? element.Clone() : JsonSerializer.SerializeToElement(value, GatewayJson.Options)));

    public bool ContainsKey(string key) => _values.ContainsKey(key);

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out JsonElement value) => _values.TryGetValue(key, out value);

    public IEnumerator<KeyValuePair<string, JsonElement>> GetEnumerator() => _values.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
