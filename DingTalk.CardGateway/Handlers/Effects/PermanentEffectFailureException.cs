namespace DingTalk.CardGateway.Handlers.Effects;

/// <summary>
/// Thrown by an effect that will never succeed however often it is tried (the system called refused the request for
/// good): the effect is given up at once, as dead, with this message as its last error, and not retried.
/// </summary>
public sealed class PermanentEffectFailureException : Exception
{
    public PermanentEffectFailureException()
    {
    }

    public PermanentEffectFailureException(string message)
        : base(message)
    {
    }

    public PermanentEffectFailureException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
