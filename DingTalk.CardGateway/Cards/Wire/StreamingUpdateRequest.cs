namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>PUT /v1.0/card/streaming. <c>guid</c> is the idempotency key; <c>isFull</c> must be sent.</summary>
public sealed record StreamingUpdateRequest(
    string OutTrackId,
    string Guid,
    string Key,
    string Content,
    bool IsFull,
    bool IsFinalize,
    bool IsError);
