using System.Text.Json;

namespace DingTalk.CardGateway.Cards;

/// <summary>A normal (StandardCard) robot card: its card JSON, one target, and the callback URL minted for it.</summary>
public sealed record RobotCardSpec(
    string CardBizId,
    JsonElement CardData,
    string? OpenConversationId,
    string? UserId,
    string? CallbackUrl,
    IReadOnlyDictionary<string, JsonElement>? UserIdPrivateData = null);
