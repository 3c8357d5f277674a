namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// Text to type into one card variable for everyone, chunk by chunk (an LLM answer, say): started after the answer,
/// paced per card, and finalised when <paramref name="Chunks"/> ends.
/// </summary>
/// <param name="Key">The card variable the text goes into (on a robot card, the markdown block).</param>
/// <param name="Chunks">The text as it arrives.</param>
/// <param name="StatusKey">
/// An advanced card's variable that shows how the text is going, as DingTalk's AI card templates read <c>flowStatus</c>
/// (<see cref="AiCardStatus"/>): processing once the text is asked for, inputing with the first frame, then finished or
/// failed, each an update for everyone through the outbox. Null or empty: none (and on a robot card, always none).
/// </param>
public sealed record CardTextStream(string Key, IAsyncEnumerable<string> Chunks, string? StatusKey = null);
