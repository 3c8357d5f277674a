namespace DingTalk.CardGateway.Cards;

/// <summary>DingTalk's <c>callbackType</c> values: how a card's clicks reach us.</summary>
public static class CallbackTypes
{
    public const string Http = "HTTP";
    public const string Stream = "STREAM";
}
