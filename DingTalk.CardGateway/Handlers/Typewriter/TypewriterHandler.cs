using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Handlers.Typewriter;

/// <summary>
/// <c>params.action = "ask"</c> (with <c>params.question</c>, <c>prompt</c> or <c>text</c>): streams the
/// <see cref="ITextSource"/>'s reply into the card's <see cref="HandlerOptions.TypewriterKey"/> variable (<c>content</c>)
/// after the answer, typewriter style, showing its progress in <see cref="HandlerOptions.TypewriterStatusKey"/> if set.
/// </summary>
public sealed class TypewriterHandler(ITextSource source, IOptionsMonitor<HandlerOptions> options) : ICardActionHandler
{
    public const string AskAction = "ask";

    public Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken)
    {
        var prompt = context.Param("question") ?? context.Param("prompt") ?? context.Param("text") ?? "";
        var o = options.CurrentValue;
        return Task.FromResult(CardActionResult.StreamText(o.TypewriterKey, source.StreamAsync(prompt, context, cancellationToken), o.TypewriterStatusKey)); // empty (appsettings.json's): none
    }
}
