namespace DingTalk.CardGateway.Handlers.Effects;

/// <summary>The effects registered in this process, by name.</summary>
public sealed class CardEffectRegistry
{
    private readonly Dictionary<string, CardEffectRegistration> _byName = new(StringComparer.Ordinal);

    /// <exception cref="InvalidOperationException">
    /// Two effect classes share a type name (in two namespaces): pending effects are stored under the name alone, so one
    /// would run with the other's payload. Refused when the process starts, naming both.
    /// </exception>
    public CardEffectRegistry(IEnumerable<CardEffectRegistration> registrations)
    {
        foreach (var registration in registrations)
        {
            if (_byName.TryGetValue(registration.Effect, out var earlier) && earlier.EffectType != registration.EffectType)
            {
                throw new InvalidOperationException(
                    $"Two effects are registered under the name {registration.Effect}: {earlier.EffectType.FullName} and {registration.EffectType.FullName}. "
                    + "Effects are stored under their type's name, so rename one of the classes.");
            }

            _byName[registration.Effect] = registration; // the same class registered again: the last registration wins
        }
    }

    public CardEffectRegistration? Find(string effect) => _byName.GetValueOrDefault(effect);

    public bool IsRegistered(string effect) => _byName.ContainsKey(effect);
}
