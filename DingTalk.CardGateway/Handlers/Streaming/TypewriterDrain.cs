namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// On stop, waits (up to <see cref="MaxWait"/>) for the texts being typed to send their last frame — each finalises
/// what it has typed so far, marked as an error, once the gateway stops (<see cref="CardTypewriter.TypeAsync(CardActionContext, CardTextStream, CancellationToken)"/>), and
/// releases its card's typing lease, so another replica may type the card's next reply at once.
/// Registered after storage, so it stops before the outbox and the database do: a robot card's last frame can still
/// be queued, and the lease released.
/// </summary>
public sealed partial class TypewriterDrain(CardTypewriter typewriter, ILogger<TypewriterDrain> logger, Hosting.StopReport? stopReport = null) : IHostedService
{
    public static readonly TimeSpan MaxWait = CardTypewriter.StopGrace + TimeSpan.FromSeconds(2);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(MaxWait);
        try
        {
            await typewriter.DrainAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            Log.NotDrained(logger, typewriter.Typing, (long)MaxWait.TotalMilliseconds);
            stopReport?.TextsNotFinalised(typewriter.Typing);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(6106, LogLevel.Warning, "{Typing} text(s) were still being typed {WaitMs} ms into the stop; their cards may show them typing")]
        public static partial void NotDrained(ILogger logger, int typing, long waitMs);
    }
}
