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
