namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// Text to type into one card variable for everyone, chunk by chunk (an LLM answer, say): started after the answer,
/// paced per card, and finalised when <paramref name="Chunks"/> ends.
/// </summary>
public sealed record CardTextStream(string Key, IAsyncEnumerable<string> Chunks);
