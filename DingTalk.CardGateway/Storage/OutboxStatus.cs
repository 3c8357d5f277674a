namespace DingTalk.CardGateway.Storage;

public enum OutboxStatus
{
    /// <summary>Waiting to leave, or to be retried.</summary>
    Pending,

    /// <summary>DingTalk accepted it.</summary>
    Sent,

    /// <summary>DingTalk refused it for good (unknown card, missing permission) or it was retried past the give-up age.</summary>
    Dead,

    /// <summary>
    /// Was <see cref="Dead"/>; a resend of the card's whole stored state (<c>POST /api/cards/{id}/resend</c>) queued after
    /// it reached DingTalk since, so what it carried is shown: no longer counted as dead.
    /// </summary>
    Resolved,

    /// <summary>Was <see cref="Dead"/>; an operator dismissed it (<c>DELETE /api/cards/{id}/dead-letters</c>): nothing was sent again.</summary>
    Dismissed,
}
