using System.Text.Json;
using DingTalk.CardGateway.Cards;

namespace DingTalk.CardGateway.Admin;

/// <summary>Body of <c>POST /api/robot-cards</c>: a normal StandardCard to a group or one user.</summary>
public sealed record SendRobotCardRequest
{
    /// <summary>The StandardCard JSON object (header, contents, …).</summary>
    public JsonElement CardData { get; init; }

    public string? OpenConversationId { get; init; }

    public string? UserId { get; init; }

    /// <summary>Your id for the card; generated when absent.</summary>
    public string? CardBizId { get; init; }

    /// <summary>
    /// Send a card whose earlier send never learned its fate (stored with <c>creationConfirmed: false</c>) again anyway:
    /// only once the chat shows it did not arrive, since DingTalk would show a repeat twice.
    /// </summary>
    public bool ResendUnconfirmed { get; init; }

    public Dictionary<string, string[]> Validate()
    {
        var errors = new Dictionary<string, string[]>();
        if (CardData.ValueKind != JsonValueKind.Object)
        {
            errors["cardData"] = ["cardData must be the StandardCard JSON object."];
        }
        else if (!JsonUnicode.IsValid(CardData))
        {
            errors["cardData"] = [JsonUnicode.Refusal("cardData")];
        }

        var hasGroup = !string.IsNullOrWhiteSpace(OpenConversationId);
        var hasUser = !string.IsNullOrWhiteSpace(UserId);
        if (hasGroup == hasUser)
        {
            errors["openConversationId"] = [hasGroup ? "Give openConversationId or userId, not both." : "A target is required: openConversationId or userId."];
        }

        if (CardBizId is not null && !CardIdRule.IsValid(CardBizId))
        {
            errors["cardBizId"] = [CardIdRule.Refusal("cardBizId")];
        }

        return errors;
    }
}
