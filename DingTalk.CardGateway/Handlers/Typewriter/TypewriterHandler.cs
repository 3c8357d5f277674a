namespace DingTalk.CardGateway.Handlers.Typewriter;

/// <summary>
/// <c>params.action = "ask"</c> (with <c>params.question</c>, <c>prompt</c> or <c>text</c>): streams the
/// <see cref="ITextSource"/>'s reply into the card's <c>content</c> variable after the answer, typewriter style.
/// </summary>
public sealed class TypewriterHandler(ITextSource source) : ICardActionHandler
{
    public const string AskAction = "ask";
    public const string ContentKey = "content";

    public Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        var prompt = context.Param("question") ?? context.Param("prompt") ?? context.Param("text") ?? "";
        return Task.FromResult(CardActionResult.StreamText(ContentKey, source.StreamAsync(prompt, context, cancellationToken)));
    }
}
