namespace DingTalk.Sandbox.Stream;

/// <summary>A WebSocket connect refused for its ticket (missing, unknown, already used or expired).</summary>
public sealed record SandboxTicketRejection(string? Ticket, string Reason, DateTimeOffset At);
