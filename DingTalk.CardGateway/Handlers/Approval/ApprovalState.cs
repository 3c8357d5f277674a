namespace DingTalk.CardGateway.Handlers.Approval;

/// <summary>The decision on one approval card; the first one stands.</summary>
public sealed record ApprovalState(string Status, string DecidedBy, string CallbackId, DateTimeOffset DecidedAt);
