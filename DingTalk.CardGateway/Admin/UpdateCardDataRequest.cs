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

    /// <summary>JSON lets a user's entry be <c>null</c>, which the typed map cannot refuse by itself.</summary>
    internal const string NullUserRefusal = "privateData must map each userId to an object of variables, not null.";

    public Dictionary<string, string[]> Validate() =>
        CardData is null && PrivateData is null ? new() { ["cardData"] = ["Give cardData, privateData or both."] }
        : !JsonUnicode.IsValid(CardData?.Values) ? new() { ["cardData"] = [JsonUnicode.Refusal("cardData")] }
        : PrivateData?.Values.Any(user => user is null) == true ? new() { ["privateData"] = [NullUserRefusal] }
        : !JsonUnicode.IsValid(PrivateData?.Values) ? new() { ["privateData"] = [JsonUnicode.Refusal("privateData")] }
        : [];
}
