namespace DingTalk.Sandbox;

/// <summary>One call the sandbox received. <paramref name="Path"/> is relative to the mount prefix; <paramref name="Status"/> is what it answered.</summary>
public sealed record ReceivedRequest(DateTimeOffset At, string Method, string Path, string? AccessToken, string Body, int Status);
