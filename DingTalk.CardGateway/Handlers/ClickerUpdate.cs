namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// What only the clicking user's card shows, returned in the callback answer (DingTalk's <c>cardData</c> and
/// <c>userPrivateData</c>, merged by key). Lost if the handler overruns its budget.
/// </summary>
public sealed record ClickerUpdate(CardValues? CardData = null, CardValues? PrivateData = null)
{
    /// <summary>Values private to the clicker, e.g. <c>myVote</c>.</summary>
    public static ClickerUpdate Private(CardValues values) => new(PrivateData: values);

    /// <summary>Public variables as the clicker sees them until the everyone-update arrives.</summary>
    public static ClickerUpdate Public(CardValues values) => new(CardData: values);

    public bool IsEmpty => CardData is not { Count: > 0 } && PrivateData is not { Count: > 0 };
}
