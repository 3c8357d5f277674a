using System.Text.Json;
using DingTalk.CardGateway.Cards;

namespace DingTalk.CardGateway.Admin;

/// <summary>Body of <c>PUT /api/robot-cards/{cardBizId}</c>.</summary>
public sealed record UpdateRobotCardRequest
{
    public JsonElement CardData { get; init; }

    /// <summary>Per-user private data, by userId: an object of variables each (anything else would reach DingTalk as none).</summary>
    public IReadOnlyDictionary<string, JsonElement>? UserIdPrivateData { get; init; }

    public bool Replace { get; init; }

    public Dictionary<string, string[]> Validate() =>
        CardData.ValueKind != JsonValueKind.Object ? new() { ["cardData"] = ["cardData must be a JSON object."] }
        : !JsonUnicode.IsValid(CardData) ? new() { ["cardData"] = [JsonUnicode.Refusal("cardData")] }
        : UserIdPrivateData?.Values.Any(user => user.ValueKind != JsonValueKind.Object) == true
            ? new() { ["userIdPrivateData"] = ["userIdPrivateData must map each userId to an object of variables."] }
        : !JsonUnicode.IsValid(UserIdPrivateData?.Values) ? new() { ["userIdPrivateData"] = [JsonUnicode.Refusal("userIdPrivateData")] }
        : [];
}
