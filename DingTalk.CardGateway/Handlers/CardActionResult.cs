using System.Text.Json;
using DingTalk.CardGateway.Handlers.Effects;
using DingTalk.CardGateway.Hosting;

namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// A handler's verdict: an update for the clicker (in the answer), for everyone (after the answer), text to
/// stream into the card, effects to run once the click is committed, any combination, or <see cref="None"/>.
/// </summary>
public sealed record CardActionResult
{
    /// <summary>Acknowledge without changing the card: DingTalk gets <c>{}</c>.</summary>
    public static CardActionResult None { get; } = new();

    public ClickerUpdate? Clicker { get; init; }

    public EveryoneUpdate? Everyone { get; init; }

    public CardTextStream? Stream { get; init; }

    /// <summary>Effects to run once the click is committed, in the order asked for (<see cref="AndAfterCommit{TEffect, TPayload}"/>).</summary>
    public IReadOnlyList<AfterCommitEffect> AfterCommit { get; init; } = [];

    public static CardActionResult ForClicker(ClickerUpdate update) => new() { Clicker = update };

    public static CardActionResult ForEveryone(EveryoneUpdate update) => new() { Everyone = update };

    /// <summary>Types <paramref name="chunks"/> into the card variable <paramref name="key"/> for everyone (<see cref="CardTextStream"/>).</summary>
    /// <param name="key">The card variable (on a robot card, the markdown block) the text goes into.</param>
    /// <param name="chunks">The text as it arrives.</param>
    /// <param name="statusKey">An AI card template's status variable (<see cref="AiCardStatus.Key"/>), set as the text goes; null: none.</param>
    public static CardActionResult StreamText(string key, IAsyncEnumerable<string> chunks, string? statusKey = null) => new() { Stream = new CardTextStream(key, chunks, statusKey) };

    public CardActionResult AndForClicker(ClickerUpdate update) => this with { Clicker = update };

    public CardActionResult AndForEveryone(EveryoneUpdate update) => this with { Everyone = update };

    /// <summary>
    /// Runs <typeparamref name="TEffect"/> (registered with <c>services.AddCardEffect&lt;TEffect, TPayload&gt;()</c>) with
    /// <paramref name="payload"/> once this click is committed, at least once: stored in the click's own transaction, so it
    /// runs exactly when the click counts — not when the click fails, is run again (what an earlier run asked for is
    /// dropped with its changes) or is a redelivery of a click handled before. Each call adds one effect.
    /// </summary>
    /// <param name="payload">JSON-serializable; serialized now, so a payload that cannot be fails the handler.</param>
    public CardActionResult AndAfterCommit<TEffect, TPayload>(TPayload payload)
        where TEffect : ICardEffect<TPayload> =>
        this with { AfterCommit = [.. AfterCommit, new AfterCommitEffect(typeof(TEffect).Name, JsonSerializer.Serialize(payload, GatewayJson.Options)) { EffectType = typeof(TEffect) }] };

    /// <summary>Only an effect after the commit (<see cref="AndAfterCommit{TEffect, TPayload}"/>): DingTalk gets <c>{}</c>.</summary>
    public static CardActionResult AfterCommitOnly<TEffect, TPayload>(TPayload payload)
        where TEffect : ICardEffect<TPayload> => None.AndAfterCommit<TEffect, TPayload>(payload);

    /// <inheritdoc cref="StreamText"/>
    public CardActionResult AndStreamText(string key, IAsyncEnumerable<string> chunks, string? statusKey = null) => this with { Stream = new CardTextStream(key, chunks, statusKey) };
}
