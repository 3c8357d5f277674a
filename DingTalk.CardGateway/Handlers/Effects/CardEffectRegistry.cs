namespace DingTalk.CardGateway.Handlers.Effects;

/// <summary>The effects registered in this process, by name.</summary>
public sealed class CardEffectRegistry(IEnumerable<CardEffectRegistration> registrations)
{
    private readonly Dictionary<string, CardEffectRegistration> _byName = registrations
        .GroupBy(r => r.Effect, StringComparer.Ordinal)
        .ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);

    public CardEffectRegistration? Find(string effect) => _byName.GetValueOrDefault(effect);

    public bool IsRegistered(string effect) => _byName.ContainsKey(effect);
}
