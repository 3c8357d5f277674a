using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>What the pipeline answers a transport: the JSON for DingTalk, and how the callback went.</summary>
public sealed record CallbackReply(string CallbackId, CallbackOutcome Outcome, bool Redelivery, string AnswerJson);
