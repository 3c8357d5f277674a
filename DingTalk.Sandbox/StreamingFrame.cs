namespace DingTalk.Sandbox;

/// <summary>One accepted <c>PUT /v1.0/card/streaming</c> call (a repeated guid is recorded once).</summary>
public sealed record StreamingFrame(string Guid, string Key, string Content, bool IsFull, bool IsFinalize, bool IsError);
