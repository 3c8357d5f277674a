namespace DingTalk.CardGateway.Callbacks;

/// <summary>What <see cref="RobotCardCallbackToken.Verify(string, string, string)"/> found in a robot-card callback URL's token.</summary>
public enum TokenCheck
{
    /// <summary>Minted for this card.</summary>
    Valid,

    /// <summary>Minted for this card by a gateway before the token had its own prefix; still accepted.</summary>
    Legacy,

    /// <summary>Minted before the prefix for an id that reads as a millisecond time since 2015: it doubles as a card-callback signature, refused.</summary>
    LegacyForTimestampId,

    /// <summary>Not minted for this card under this ApiSecret.</summary>
    Mismatch,
}
