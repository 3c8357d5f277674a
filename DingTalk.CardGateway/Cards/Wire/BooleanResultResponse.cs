namespace DingTalk.CardGateway.Cards.Wire;

/// <summary>Update and streaming answer <c>{"success": true, "result": true}</c>.</summary>
public sealed record BooleanResultResponse(bool Success, bool Result);
