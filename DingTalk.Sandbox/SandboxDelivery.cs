namespace DingTalk.Sandbox;

/// <summary>One target of a deliver call, as reported back in <c>deliverResults</c>.</summary>
public sealed record SandboxDelivery(string SpaceType, string SpaceId, bool Success, string? CarrierId, string? ErrorMessage);
