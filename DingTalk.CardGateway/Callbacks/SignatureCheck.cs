namespace DingTalk.CardGateway.Callbacks;

/// <summary>The verdict on a signed callback's headers.</summary>
public enum SignatureCheck
{
    Valid,

    /// <summary>The timestamp or signature header is absent or empty.</summary>
    MissingSignature,

    /// <summary>The timestamp is not epoch milliseconds.</summary>
    MalformedTimestamp,

    /// <summary>Correctly signed, but the timestamp is outside the accepted window.</summary>
    Stale,

    /// <summary>The signature is not the one the secret gives for this timestamp.</summary>
    Mismatch,
}

public static class SignatureChecks
{
    /// <summary>
    /// Made with the secret it was checked against, whether or not its timestamp is within the window: what tells a refused
    /// signature's operator which secret (or which scheme) it was made with.
    /// </summary>
    public static bool IsMadeWithTheSecret(this SignatureCheck check) => check is SignatureCheck.Valid or SignatureCheck.Stale;
}
