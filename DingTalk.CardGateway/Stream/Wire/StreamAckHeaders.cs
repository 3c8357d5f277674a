namespace DingTalk.CardGateway.Stream.Wire;

/// <summary>The headers of an answer: always JSON, naming the frame it answers.</summary>
public sealed record StreamAckHeaders(string ContentType, string MessageId);
