namespace DingTalk.CardGateway.Storage;

public enum CardKind
{
    /// <summary>An advanced (interactive) card, keyed by outTrackId.</summary>
    Advanced,

    /// <summary>A normal StandardCard sent by a robot, keyed by cardBizId.</summary>
    Robot,
}
