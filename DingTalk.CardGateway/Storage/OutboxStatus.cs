namespace DingTalk.CardGateway.Storage;

public enum OutboxStatus
{
    /// <summary>Waiting to leave, or to be retried.</summary>
    Pending,

    /// <summary>DingTalk accepted it.</summary>
    Sent,

    /// <summary>DingTalk refused it for good (unknown card, missing permission) or it was retried past the give-up age.</summary>
    Dead,
}
