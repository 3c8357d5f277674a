using DingTalk.CardGateway.Storage;

namespace DingTalk.CardGateway.Handlers;

/// <summary>Frames sent from outside a text (an operator's <c>POST /api/cards/{id}/stream</c>), in the card's turn.</summary>
public sealed partial class CardTypewriter
{
    /// <summary>
    /// How long a frame from outside a text waits for the card to come free — behind other such frames, or for the
    /// card's lease while another replica holds it — before it is given up (<see cref="FrameTurn.Busy"/>). A frame holds
    /// the card for one interval and one call; a text for as long as it types (up to
    /// <see cref="HandlerOptions.StreamTimeout"/>), which an HTTP request does not wait out.
    /// </summary>
    public static readonly TimeSpan FrameWait = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Runs <paramref name="send"/> — one frame into the card, and whatever must go with it — in the card's turn, as a
    /// text's frame would go: never between two frames of a text typed into the card (in this process or, through the
    /// card's typing lease, another replica), and at least <see cref="HandlerOptions.StreamFrameInterval"/> after the
    /// card's last frame, whoever sent it. Does not wait for a text: a card this process types into (a text that has not
    /// sent its last frame) is <see cref="FrameTurn.TextTyping"/> at once; a card that stays taken for
    /// <see cref="FrameWait"/> is <see cref="FrameTurn.Busy"/>. Either way <paramref name="send"/> does not run.
    /// </summary>
    public async Task<FrameTurn> SendFrameAsync(string cardId, Func<CancellationToken, Task> send, CancellationToken cancellationToken)
    {
        var lane = Enter(cardId);
        var leaveNow = true;
        try
        {
            using var waitLimit = new CancellationTokenSource(FrameWait, clock);
            using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, waitLimit.Token);
            if (await WaitForFrameTurnAsync(lane, waitLimit, waiting.Token) is { } refused)
            {
                return refused;
            }

            try
            {
                if (await TakeFrameLeaseAsync(cardId, waitLimit, waiting.Token) is not { } lease)
                {
                    return FrameTurn.Busy;
                }

                using var held = lease;
                try
                {
                    if (lease.LastFrameAt > lane.LastFrameAt)
                    {
                        lane.LastFrameAt = lease.LastFrameAt; // sent by another replica
                    }

                    using var leased = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lease.Lost);
                    await WaitForSlotAsync(lane, leased.Token);
                    try
                    {
                        await send(leased.Token);
                    }
                    finally
                    {
                        lane.LastFrameAt = clock.GetUtcNow(); // also when it failed: it may have reached DingTalk
                    }

                    return FrameTurn.Sent;
                }
                finally
                {
                    await lease.ReleaseAsync(lane.LastFrameAt);
                }
            }
            finally
            {
                // The card's next frame in this process waits for the interval, not this request: the lane (and its time of
                // the last frame) stays until the turn is passed on.
                leaveNow = false;
                _ = PassTurnAsync(cardId, lane);
            }
        }
        finally
        {
            if (leaveNow)
            {
                Leave(cardId, lane);
            }
        }
    }

    /// <summary>
    /// The card's turn in this process; null once taken. A text in the card's lane that has not ended (typing, or waiting
    /// to) is <see cref="FrameTurn.TextTyping"/> at once, without waiting for it. A text that has sent its last frame
    /// keeps the turn a little longer (its text stored, its lease released, one interval): the frame waits for it, as for
    /// frames ahead. Anything holding the turn past <paramref name="waitLimit"/>: <see cref="FrameTurn.Busy"/>, or
    /// <see cref="FrameTurn.TextTyping"/> if a text has come in meanwhile.
    /// </summary>
    private async Task<FrameTurn?> WaitForFrameTurnAsync(Lane lane, CancellationTokenSource waitLimit, CancellationToken cancellationToken)
    {
        if (TextIn(lane))
        {
            return FrameTurn.TextTyping;
        }

        try
        {
            await lane.Turn.WaitAsync(cancellationToken);
            return null;
        }
        catch (OperationCanceledException) when (waitLimit.IsCancellationRequested)
        {
            return TextIn(lane) ? FrameTurn.TextTyping : FrameTurn.Busy;
        }
    }

    /// <summary>The card's lease, tried again every <see cref="CardLease.PollInterval"/> until <paramref name="waitLimit"/>; null then.</summary>
    private async Task<CardLease?> TakeFrameLeaseAsync(string cardId, CancellationTokenSource waitLimit, CancellationToken cancellationToken)
    {
        var duration = options.CurrentValue.StreamLeaseDuration;
        try
        {
            while (true)
            {
                if (await CardLease.TryTakeAsync(leases, cardId, duration, clock, logger, cancellationToken) is { } lease)
                {
                    return lease;
                }

                await Task.Delay(CardLease.PollInterval, clock, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (waitLimit.IsCancellationRequested)
        {
            return null;
        }
    }

    private async Task PassTurnAsync(string cardId, Lane lane)
    {
        try
        {
            await ReleaseTurnAsync(lane);
        }
        finally
        {
            Leave(cardId, lane);
        }
    }

    /// <summary>A text in the card's lane has not ended: it is typing, or waiting for its turn.</summary>
    private bool TextIn(Lane lane)
    {
        lock (_gate)
        {
            return lane.Texts > 0;
        }
    }
}
