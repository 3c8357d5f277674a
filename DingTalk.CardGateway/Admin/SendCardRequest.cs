using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using DingTalk.CardGateway.Cards;

namespace DingTalk.CardGateway.Admin;

/// <summary>Body of <c>POST /api/cards</c>: an advanced card and where it goes (a group or users' 1:1 robot chats).</summary>
public sealed record SendCardRequest : IExampleBody<SendCardRequest>
{
    /// <summary>The quick start's poll, to the sandbox's group: what Swagger UI pre-fills.</summary>
    public static SendCardRequest Example => new()
    {
        CardTemplateId = "tpl.poll",
        OpenConversationId = "cidDemo==",
        CardData = new Dictionary<string, JsonElement> { ["title"] = JsonSerializer.SerializeToElement("Lunch?") },
    };

    /// <summary>The template id from DingTalk's card builder.</summary>
    [Required]
    public string? CardTemplateId { get; init; }

    /// <summary>Your id for the card; generated when absent.</summary>
    public string? OutTrackId { get; init; }

    /// <summary>Deliver into this group chat (the robot must be in it); give this or <c>userIds</c>, not both.</summary>
    public string? OpenConversationId { get; init; }

    /// <summary>Or deliver into each user's 1:1 chat with the robot.</summary>
    public IReadOnlyList<string>? UserIds { get; init; }

    /// <summary>Public card variables as ordinary JSON; sent as DingTalk's string-only cardParamMap.</summary>
    public IReadOnlyDictionary<string, JsonElement>? CardData { get; init; }

    /// <summary>Per-user variables, by userId.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, JsonElement>>? PrivateData { get; init; }

    /// <summary>Users to @mention in the group when the card is delivered.</summary>
    public IReadOnlyList<string>? AtUserIds { get; init; }

    /// <summary>How the card's clicks come back: <c>HTTP</c> or <c>STREAM</c>; when left out, STREAM if Stream mode is on, else HTTP.</summary>
    [AllowedValues(Cards.CallbackTypes.Http, Cards.CallbackTypes.Stream)]
    public string? CallbackType { get; init; }

    public Dictionary<string, string[]> Validate()
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(CardTemplateId))
        {
            errors["cardTemplateId"] = ["cardTemplateId is required."];
        }

        var hasGroup = !string.IsNullOrWhiteSpace(OpenConversationId);
        var hasUsers = UserIds is { Count: > 0 };
        if (hasGroup == hasUsers)
        {
            errors["openConversationId"] = [hasGroup ? "Give openConversationId or userIds, not both." : "A target is required: openConversationId or userIds."];
        }

        if (UserIds?.Any(string.IsNullOrWhiteSpace) == true)
        {
            errors["userIds"] = ["userIds must not contain empty ids."];
        }

        if (AtUserIds?.Any(string.IsNullOrWhiteSpace) == true)
        {
            errors["atUserIds"] = ["atUserIds must not contain empty ids."];
        }

        if (OutTrackId is not null && !CardIdRule.IsValid(OutTrackId))
        {
            errors["outTrackId"] = [CardIdRule.Refusal("outTrackId")];
        }

        if (!JsonUnicode.IsValid(CardData?.Values))
        {
            errors["cardData"] = [JsonUnicode.Refusal("cardData")];
        }

        if (UpdateCardDataRequest.PrivateDataRefusal(PrivateData) is { } refusal)
        {
            errors["privateData"] = [refusal];
        }

        if (CallbackType is not null and not (Cards.CallbackTypes.Http or Cards.CallbackTypes.Stream))
        {
            errors["callbackType"] = ["callbackType must be HTTP or STREAM."];
        }

        return errors;
    }
}
