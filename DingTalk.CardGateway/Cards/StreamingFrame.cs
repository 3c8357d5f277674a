namespace DingTalk.CardGateway.Cards;

/// <summary>One typewriter frame for a card variable.</summary>
public sealed record StreamingFrame(string OutTrackId, string Key, string Content, bool IsFull, bool IsFinalize, bool IsError, string Guid)
{
    public static StreamingFrame Create(string outTrackId, string key, string content, bool isFull = true, bool isFinalize = false, bool isError = false) =>
        new(outTrackId, key, content, isFull, isFinalize, isError, System.Guid.NewGuid().ToString("N"));
}
