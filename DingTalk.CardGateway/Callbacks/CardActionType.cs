namespace DingTalk.CardGateway.Callbacks;

/// <summary>DingTalk's <c>type</c> of a card callback.</summary>
public enum CardActionType
{
    /// <summary><c>actionCallback</c>, also assumed when <c>type</c> is absent: a button or form.</summary>
    ActionCallback,

    /// <summary><c>dynamicDataCallback</c>: the card pulls a dynamic data source.</summary>
    DynamicDataCallback,
}
