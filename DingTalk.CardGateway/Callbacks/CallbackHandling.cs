namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// A callback the pipeline has answered, and the rest of it: one answered <c>{}</c> at its budget goes on to its commit
/// after its answer, so a transport that bounds how many callbacks it handles at once counts it until <see cref="Through"/>.
/// </summary>
/// <param name="Reply">The answer for DingTalk.</param>
/// <param name="Through">
/// Completes, never faulted, once the callback is committed or given up (a failure after an early answer is logged by the
/// pipeline); completed already when the answer came with the commit.
/// </param>
public sealed record CallbackHandling(CallbackReply Reply, Task Through);
