using System.Text.Json;
using DingTalk.CardGateway.Cards;

namespace DingTalk.CardGateway.Admin;

/// <summary>Body of <c>PUT /api/cards/{outTrackId}</c>: merged by key unless <see cref="Replace"/>.</summary>
public sealed record UpdateCardDataRequest
{
    public IReadOnlyDictionary<string, JsonElement>? CardData { get; init; }

    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, JsonElement>>? PrivateData { get; init; }

    /// <summary>Replace the whole maps instead of merging by key.</summary>
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
