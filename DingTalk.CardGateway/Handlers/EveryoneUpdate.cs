namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// What every viewer's card shows: issued after the answer through DingTalk's card update API (advanced cards)
/// or the robot-card update (normal cards), merged by key, in order per card.
/// </summary>
public sealed record EveryoneUpdate(CardValues? CardData = null, IReadOnlyDictionary<string, CardValues>? PrivateData = null)
{
    public static EveryoneUpdate Public(CardValues values) => new(CardData: values);

    public bool IsEmpty => CardData is not { Count: > 0 } && PrivateData is not { Count: > 0 };
}
