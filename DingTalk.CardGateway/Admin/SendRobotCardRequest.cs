using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using DingTalk.CardGateway.Cards;

namespace DingTalk.CardGateway.Admin;

/// <summary>Body of <c>POST /api/robot-cards</c>: a normal StandardCard to a group or one user.</summary>
public sealed record SendRobotCardRequest : IExampleBody<SendRobotCardRequest>
{
    /// <summary>A StandardCard with a title and one line of text, to the sandbox's group: what Swagger UI pre-fills.</summary>
    public static SendRobotCardRequest Example => new()
    {
        CardData = JsonSerializer.SerializeToElement(new
        {
            header = new { title = new { type = "text", text = "Lunch?" } },
            contents = new[] { new { type = "markdown", id = "note", text = "Sent from Swagger UI" } },
        }),
        OpenConversationId = "cidDemo==",
    };

    /// <summary>The StandardCard JSON object (header, contents, …).</summary>
    [Required]
    public JsonElement CardData { get; init; }

    /// <summary>Send into this group chat (the robot must be in it); give this or <c>userId</c>, not both.</summary>
    public string? OpenConversationId { get; init; }

    /// <summary>Or send into this user's 1:1 chat with the robot.</summary>
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
