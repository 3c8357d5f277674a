namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// The values of <c>flowStatus</c>, the variable DingTalk's AI card templates show their state by (a spinner while
/// processing, a cursor while inputing, and so on), as DingTalk's own Stream SDK sets them (<c>AICardStatus</c> in
/// <c>dingtalk_stream/card_replier.py</c>). A card left at processing or inputing keeps its spinner.
/// </summary>
public static class AiCardStatus
{
    /// <summary>The template's conventional variable name.</summary>
    public const string Key = "flowStatus";

    /// <summary>The text is asked for; nothing typed yet.</summary>
    public const string Processing = "1";

    /// <summary>Text is being typed.</summary>
    public const string Inputing = "2";

    /// <summary>The text is whole.</summary>
    public const string Finished = "3";

    /// <summary>The text ended as an error (its source failed, timed out, the gateway stopped, DingTalk refused a frame).</summary>
    public const string Failed = "5";
}
