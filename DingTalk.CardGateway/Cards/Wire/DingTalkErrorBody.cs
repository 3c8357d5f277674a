using System.Text.Json.Serialization;

namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>The body of every non-2xx OpenAPI answer.</summary>
public sealed record DingTalkErrorBody(
    string? Code,
    string? Message,
    [property: JsonPropertyName("requestid")] string? RequestId,
    [property: JsonPropertyName("accessdenieddetail")] AccessDeniedDetail? AccessDeniedDetail);
