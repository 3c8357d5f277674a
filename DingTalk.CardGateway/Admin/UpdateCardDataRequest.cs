using System.Text.Json;
using DingTalk.CardGateway.Cards;

namespace DingTalk.CardGateway.Admin;

/// <summary>Body of <c>PUT /api/cards/{outTrackId}</c>: merged into the card by key unless <c>replace</c> is true.</summary>
public sealed record UpdateCardDataRequest : IExampleBody<UpdateCardDataRequest>
{
    /// <summary>
    /// One key of its own merged into the card's public data: every other key, and every user's private data, stays as it
    /// was. (Swagger UI would otherwise pre-fill <c>replace: true</c> with empty maps, which empties the card.)
    /// </summary>
    public static UpdateCardDataRequest Example => new()
    {
        CardData = new Dictionary<string, JsonElement> { ["swaggerNote"] = JsonSerializer.SerializeToElement("Updated from Swagger UI") },
        Replace = false,
    };

    /// <summary>Public card variables to change, as ordinary JSON; the card's other variables stay unless <c>replace</c> is true.</summary>
    public IReadOnlyDictionary<string, JsonElement>? CardData { get; init; }

    /// <summary>Per-user variables to change, by userId; give <c>cardData</c>, <c>privateData</c> or both.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, JsonElement>>? PrivateData { get; init; }

    /// <summary>True: the maps given replace the card's whole public data and private data (what they leave out is gone); false (the default): merged by key.</summary>
    public bool Replace { get; init; }

    public Dictionary<string, string[]> Validate() =>
        CardData is null && PrivateData is null ? new() { ["cardData"] = ["Give cardData, privateData or both."] }
        : !JsonUnicode.IsValid(CardData?.Values) ? new() { ["cardData"] = [JsonUnicode.Refusal("cardData")] }
        : PrivateDataRefusal(PrivateData) is { } refusal ? new() { ["privateData"] = [refusal] }
        : [];

    /// <summary>
    /// What is wrong with per-user private data, if anything: JSON lets a user's entry be <c>null</c>, which the typed
    /// map cannot refuse by itself, and a value may hold a string no JSON writer takes. Shared with <see cref="SendCardRequest"/>.
    /// </summary>
    internal static string? PrivateDataRefusal(IReadOnlyDictionary<string, IReadOnlyDictionary<string, JsonElement>>? privateData) =>
        privateData?.Values.Any(user => user is null) == true ? "privateData must map each userId to an object of variables, not null."
        : !JsonUnicode.IsValid(privateData?.Values) ? JsonUnicode.Refusal("privateData")
        : null;
}
