using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>What the pipeline answers a transport: the JSON for DingTalk, and how the callback went.</summary>
/// <param name="CallbackId">The callback's id (its dedupe key).</param>
/// <param name="Outcome">How it went (for a redelivery: how the first delivery went).</param>
/// <param name="Redelivery">A delivery seen before: answered from the record, not handled again.</param>
/// <param name="AnswerJson">The answer for DingTalk.</param>
/// <param name="Handler">The handler's class name, when one ran for this delivery.</param>
public sealed record CallbackReply(string CallbackId, CallbackOutcome Outcome, bool Redelivery, string AnswerJson, string? Handler = null);
