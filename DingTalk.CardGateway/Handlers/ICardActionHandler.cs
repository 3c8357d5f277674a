namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// Business logic for a card action. Register it with
/// <c>services.AddCardActionHandler&lt;MyHandler&gt;(on =&gt; on.Template("tpl").Action("approve"))</c>;
/// it is resolved from a fresh DI scope for every callback, so it can take any service. The gateway owns
/// verification, deduplication, timing and delivery; the handler only says what should change.
/// </summary>
public interface ICardActionHandler
{
    /// <summary>
    /// Answers within the callback budget (1.5 s by default) to update the clicker's card; an update for everyone
    /// goes out after the answer either way. <paramref name="cancellationToken"/> fires when the handler has run for
    /// <c>Gateway:Callbacks:HandlerTimeout</c> (1 min), and on shutdown once the gateway has waited
    /// <c>Gateway:Callbacks:StopGrace</c> (10 s) for the handler to finish: until then a stopping gateway lets it run, since
    /// DingTalk will not deliver the click again. Pass it to everything the handler awaits: a handler cancelled is recorded
    /// as failed and its changes undone; one that ignores it keeps its click's transaction open until it returns. It covers
    /// the handler's run only: it is never cancelled after the handler returns, and a text stream the handler returns
    /// (<see cref="CardActionResult.StreamText"/>) is cut off by the typewriter's own limits instead (<c>StreamTimeout</c>, a stop).
    /// </summary>
    Task<CardActionResult> HandleAsync(CardActionContext context, CancellationToken cancellationToken);
}
