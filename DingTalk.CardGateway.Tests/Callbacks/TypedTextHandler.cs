using System.Collections.Concurrent;
using System.Threading.Channels;
using DingTalk.CardGateway.Handlers;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// <c>params.action = "type"</c>: streams into <c>content</c> whatever the test writes to <see cref="TypedText"/> for the card,
/// showing its progress in <c>params.statusKey</c> if given.
/// </summary>
public sealed class TypedTextHandler(TypedText text) : ICardActionHandler
{
    public Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken) =>
        Task.FromResult(CardActionResult.StreamText("content", text.For(context.CardId).Reader.ReadAllAsync(cancellationToken), context.Param("statusKey")));
}

/// <summary>The test's hand on <see cref="TypedTextHandler"/>: the text typed into each card, chunk by chunk.</summary>
public sealed class TypedText
{
    private readonly ConcurrentDictionary<string, Channel<string>> _cards = new(StringComparer.Ordinal);

    public Channel<string> For(string cardId) => _cards.GetOrAdd(cardId, _ => Channel.CreateUnbounded<string>());
}
