namespace DingTalk.CardGateway.Cards;

/// <summary>
/// Marks a request once one of its attempts may have been carried out by DingTalk without the gateway learning so:
/// the attempt timed out, the connection broke after the request left, or DingTalk answered 5xx. Innermost, beside
/// the wire, so the retry policy's later attempts carry the mark. A call that is not idempotent (creating a card)
/// reads it to tell "already exists because of us" from "already exists" (<see cref="DingTalkApiException.AfterUncertainAttempt"/>);
/// one that DingTalk cannot tell from its repeat carries a <see cref="SendOnce"/>, told here, and is not sent again.
/// </summary>
public sealed class UncertainAttemptHandler : DelegatingHandler
{
    public static readonly HttpRequestOptionsKey<bool> Key = new("DingTalk.CardGateway.UncertainAttempt");

    public static bool IsMarked(HttpRequestMessage? request) => request?.Options.TryGetValue(Key, out var marked) == true && marked;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        try
        {
            var response = await base.SendAsync(request, cancellationToken);
            if ((int)response.StatusCode >= 500)
            {
                Mark(request);
            }

            return response;
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError != HttpRequestError.ConnectionError)
        {
            // A refused connection never carried the request; anything later may have.
            Mark(request);
            throw;
        }
        catch (OperationCanceledException)
        {
            Mark(request);
            throw;
        }
    }

    private static void Mark(HttpRequestMessage request)
    {
        request.Options.Set(Key, true);
        SendOnce.Of(request)?.AttemptMayHaveArrived();
    }
}
