using System.Text.Json;

namespace DingTalk.CardGateway.Cards;

/// <summary>An advanced card to create and deliver, in ordinary JSON; <see cref="CardSender"/> makes the wire form.</summary>
public sealed record AdvancedCardSpec(
    string CardTemplateId,
    string OutTrackId,
    CardTarget Target,
    IReadOnlyDictionary<string, JsonElement>? CardData,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, JsonElement>>? PrivateData = null,
    IReadOnlyList<string>? AtUserIds = null,
    string? CallbackType = null);
