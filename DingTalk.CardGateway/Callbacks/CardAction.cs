using System.Text.Json;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>One card callback, as the gateway understands it whatever the transport or payload vintage.</summary>
public record CardAction
{
    /// <summary>
    /// Identifies this callback across redeliveries: a hash of the transport, card, user, content and the
    /// delivery stamp (the signature timestamp over HTTP, the <c>messageId</c> over Stream). The deduplication key.
    /// </summary>
    public required string CallbackId { get; init; }

    public required CallbackTransport Transport { get; init; }

    public required CardActionType Type { get; init; }

    /// <summary>The card's key in the gateway: the outTrackId of an advanced card, the cardBizId of a robot card.</summary>
    public required string CardId { get; init; }

    public string? OutTrackId { get; init; }

    public string? CardBizId { get; init; }

    /// <summary>The clicking user; empty only for a dynamic-data pull that names nobody.</summary>
    public required string UserId { get; init; }

    public string? CorpId { get; init; }

    public string? SpaceType { get; init; }

    public string? SpaceId { get; init; }

    public IReadOnlyList<string> ActionIds { get; init; } = [];

    /// <summary><c>cardPrivateData.params</c>: always a JSON object, values of any JSON kind; detached from the body.</summary>
    public required JsonElement Params { get; init; }

    /// <summary><c>params.action</c> when it is a string: what most cards route on.</summary>
    public string? Action { get; init; }
}
