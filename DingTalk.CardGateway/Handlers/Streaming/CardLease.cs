using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Handlers;

/// <summary>
/// A card's typing lease (<see cref="ITypingLeases"/>) while this process types one text into it: taken — waiting while
/// another replica holds it —, renewed every third of its duration, released at the end. Once it is lost (renewals
/// failed until it ran out, or another replica took the card over), <see cref="Lost"/> is cancelled and the typing stops:
/// another replica may be typing into the card by then.
/// </summary>
internal sealed partial class CardLease : IDisposable
{
    /// <summary>How often an ask waiting for another replica's text tries the card's lease again.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private readonly ITypingLeases _leases;
    private readonly string _cardId;
    private readonly TimeSpan _duration;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _stopRenewing = new();
    private readonly Task _renewing;

    private CardLease(ITypingLeases leases, string cardId, TimeSpan duration, DateTimeOffset lastFrameAt, TimeProvider clock, ILogger logger)
    {
        _leases = leases;
        _cardId = cardId;
        _duration = duration;
        _clock = clock;
        _logger = logger;
        LastFrameAt = lastFrameAt;
        _renewing = RenewAsync(clock.GetUtcNow() + duration);
    }

    /// <summary>When the card's last frame went, by whichever replica sent it.</summary>
    public DateTimeOffset LastFrameAt { get; }

    /// <summary>Cancelled once the lease is not this process's any more.</summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>
    /// Takes the card's lease, trying again every <see cref="PollInterval"/> while another replica holds it (or the
    /// database does not answer) until <paramref name="cancellationToken"/> gives up.
    /// </summary>
    public static async Task<CardLease> TakeAsync(
        ITypingLeases leases, CardActionContext context, TimeSpan duration, TimeProvider clock, ILogger logger, CancellationToken cancellationToken)
    {
        var waitLogged = false;
        var failureLogged = false;
        while (true)
        {
            try
            {
                if (await TryTakeAsync(leases, context.CardId, duration, clock, logger, cancellationToken) is { } lease)
                {
                    return lease;
                }

                if (!waitLogged)
                {
                    waitLogged = true;
                    Log.Waiting(logger, context.CallbackId, context.CardId);
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                if (!failureLogged)
                {
                    failureLogged = true;
                    Log.TakeFailed(logger, ex, context.CallbackId, context.CardId, (long)PollInterval.TotalMilliseconds);
                }
            }

            await Task.Delay(PollInterval, clock, cancellationToken);
        }
    }

    /// <summary>The card's lease if it is free (or this process's) now; null while another replica holds it.</summary>
    public static async Task<CardLease?> TryTakeAsync(
        ITypingLeases leases, string cardId, TimeSpan duration, TimeProvider clock, ILogger logger, CancellationToken cancellationToken) =>
        await leases.TryTakeAsync(cardId, duration, cancellationToken) is { } lastFrameAt
            ? new CardLease(leases, cardId, duration, lastFrameAt, clock, logger)
            : null;

    /// <summary>
    /// Stops renewing and frees the lease, recording <paramref name="lastFrameAt"/> for the card's next owner. Never
    /// throws: a lease not released expires within its duration, which is also as long as this tries.
    /// </summary>
    public async Task ReleaseAsync(DateTimeOffset lastFrameAt)
    {
        await _stopRenewing.CancelAsync();
        await _renewing;
        using var limit = new CancellationTokenSource(_duration, _clock);
        try
        {
            await _leases.ReleaseAsync(_cardId, lastFrameAt, limit.Token);
        }
        catch (Exception ex)
        {
            Log.NotReleased(_logger, ex, _cardId, (long)_duration.TotalSeconds);
        }
    }

    /// <summary>After <see cref="ReleaseAsync"/>.</summary>
    public void Dispose()
    {
        _stopRenewing.Dispose();
        _lost.Dispose();
    }

    private Task RenewAsync(DateTimeOffset heldUntil) => LeaseRenewal.KeepAsync(
        cancellationToken => _leases.RenewAsync(_cardId, _duration, cancellationToken),
        _duration,
        heldUntil,
        _clock,
        ex => Log.RenewalFailed(_logger, ex, _cardId),
        _lost,
        _stopRenewing.Token);

    private static partial class Log
    {
        [LoggerMessage(6109, LogLevel.Warning, "Could not take the typing lease on card {CardId} for callback {CallbackId}: the database did not answer; trying again every {PollMs} ms")]
        public static partial void TakeFailed(ILogger logger, Exception exception, string callbackId, string cardId, long pollMs);

        [LoggerMessage(6110, LogLevel.Warning, "Could not renew the typing lease on card {CardId}; trying again while it lasts")]
        public static partial void RenewalFailed(ILogger logger, Exception exception, string cardId);

        [LoggerMessage(6111, LogLevel.Warning, "Could not release the typing lease on card {CardId}: a reply asked on another replica waits until it expires, within {LeaseSeconds} s (Gateway:Handlers:StreamLeaseDuration)")]
        public static partial void NotReleased(ILogger logger, Exception exception, string cardId, long leaseSeconds);

        [LoggerMessage(6112, LogLevel.Information, "Card {CardId} is typing another text on another replica: callback {CallbackId} waits for it to finish")]
        public static partial void Waiting(ILogger logger, string callbackId, string cardId);
    }
}
