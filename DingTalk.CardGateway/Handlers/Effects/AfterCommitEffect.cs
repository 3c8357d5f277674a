using System.Text.Json.Serialization;

namespace DingTalk.CardGateway.Handlers.Effects;

/// <summary>An effect a handler's result asks for: the registered effect's name and its payload, already as JSON.</summary>
public sealed record AfterCommitEffect(string Effect, string Payload)
{
    /// <summary>
    /// The effect class asked for (null when only its name is known): effects are stored under the name alone, so a class
    /// of another namespace with the name of a registered effect must not be taken for it.
    /// </summary>
    [JsonIgnore]
    public Type? EffectType { get; init; }
}
