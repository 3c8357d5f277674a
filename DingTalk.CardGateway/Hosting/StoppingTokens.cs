namespace DingTalk.CardGateway.Hosting;

public static class StoppingTokens
{
    /// <summary>
    /// The token of a source that a stop cancels and the host's disposal disposes: once disposed, a token cancelled
    /// already — what a callback arriving after the stop (a Stream frame the stop outlasted) must get, not an
    /// <see cref="ObjectDisposedException"/> recorded as its handler's failure.
    /// </summary>
    public static CancellationToken TokenOrCancelled(this CancellationTokenSource source)
    {
        try
        {
            return source.Token;
        }
        catch (ObjectDisposedException)
        {
            return new CancellationToken(canceled: true);
        }
    }
}
