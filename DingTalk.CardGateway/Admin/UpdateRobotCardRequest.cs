using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using DingTalk.CardGateway.Cards;

namespace DingTalk.CardGateway.Admin;

/// <summary>Body of <c>PUT /api/robot-cards/{cardBizId}</c>.</summary>
public sealed record UpdateRobotCardRequest : IExampleBody<UpdateRobotCardRequest>
{
    /// <summary>
    /// Nothing merged: the card's StandardCard JSON and every user's private data stay as stored, and DingTalk is sent
    /// the card as it is. (Any top-level key given would replace that part of the card, such as its whole <c>contents</c>.)
    /// </summary>
    public static UpdateRobotCardRequest Example => new()
    {
        CardData = JsonSerializer.SerializeToElement(new { }),
        Replace = false,
    };

    /// <summary>StandardCard JSON: its top-level keys (<c>header</c>, <c>contents</c>, …) replace the card's, the others stay unless <c>replace</c> is true.</summary>
    [Required]
    public JsonElement CardData { get; init; }

    /// <summary>Per-user private data, by userId: an object of variables each (anything else would reach DingTalk as none).</summary>
    public IReadOnlyDictionary<string, JsonElement>? UserIdPrivateData { get; init; }

    /// <summary>True: <c>cardData</c> replaces the card's whole JSON and, when given, <c>userIdPrivateData</c> every user's private data; false (the default): merged.</summary>
    public bool Replace { get; init; }

    public Dictionary<string, string[]> Validate() =>
        CardData.ValueKind != JsonValueKind.Object ? new() { ["cardData"] = ["cardData must be a JSON object."] }
        : !JsonUnicode.IsValid(CardData) ? new() { ["cardData"] = [JsonUnicode.Refusal("cardData")] }
        : UserIdPrivateData?.Values.Any(user => user.ValueKind != JsonValueKind.Object) == true
            ? new() { ["userIdPrivateData"] = ["userIdPrivateData must map each userId to an object of variables."] }
        : !JsonUnicode.IsValid(UserIdPrivateData?.Values) ? new() { ["userIdPrivateData"] = [JsonUnicode.Refusal("userIdPrivateData")] }
        : [];
}
