namespace DingTalk.CardGateway.Cards;

/// <summary>
/// Goes with a call DingTalk cannot tell from its repeat: the normal robot card's send, which has no "already exists"
/// answer for a repeated <c>cardBizId</c>, so a second attempt may post the card into the chat twice. The resilience
/// pipeline sends such a call again only after attempts that certainly never reached DingTalk's processing (a refused
/// connection, DingTalk's 403 throttling, 429); after one that may have (timed out, broken off after the request left,
/// 5xx: <see cref="UncertainAttemptHandler"/>) it stops, and <see cref="MayHaveArrived"/> tells the caller so.
/// </summary>
/// <remarks>An object rather than a flag, so the caller reads what the attempts deep in the handler chain found.</remarks>
public sealed class SendOnce
{
    /// <summary>The request option it travels under (Refit's <c>[Property]</c>).</summary>
    public const string Key = "DingTalk.CardGateway.SendOnce";

    private static readonly HttpRequestOptionsKey<SendOnce> OptionsKey = new(Key);

    private volatile bool _mayHaveArrived;

    /// <summary>An attempt may have been carried out by DingTalk without the gateway learning its answer.</summary>
    public bool MayHaveArrived => _mayHaveArrived;

    /// <summary>The <see cref="SendOnce"/> a request carries, or null for a call that may be repeated.</summary>
    public static SendOnce? Of(HttpRequestMessage? request) =>
        request is not null && request.Options.TryGetValue(OptionsKey, out var once) ? once : null;

    internal void AttemptMayHaveArrived() => _mayHaveArrived = true;
}
