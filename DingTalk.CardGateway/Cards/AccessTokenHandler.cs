namespace DingTalk.CardGateway.Cards;

/// <summary>
/// Puts the shared access token on every OpenAPI call. When DingTalk answers that the token is invalid
/// (400 <c>InvalidAuthentication</c>, or 401), drops it, fetches a new one and sends the call once more.
/// </summary>
public sealed class AccessTokenHandler(AccessTokenProvider tokens) : DelegatingHandler
{
    public const string HeaderName = "x-acs-dingtalk-access-token";

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var token = await tokens.GetTokenAsync(cancellationToken);
        SetToken(request, token);
        var response = await base.SendAsync(request, cancellationToken);
        if (!await IsInvalidTokenAsync(response, cancellationToken))
        {
            return response;
        }

        response.Dispose();
        tokens.Invalidate(token);
        SetToken(request, await tokens.GetTokenAsync(cancellationToken));
        return await base.SendAsync(request, cancellationToken);
    }

    private static void SetToken(HttpRequestMessage request, string token)
    {
        request.Headers.Remove(HeaderName);
        request.Headers.TryAddWithoutValidation(HeaderName, token);
    }

    private static async Task<bool> IsInvalidTokenAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.StatusCode is not (System.Net.HttpStatusCode.BadRequest or System.Net.HttpStatusCode.Unauthorized))
        {
            return false;
        }

        var error = await DingTalkErrorReader.ReadAsync(response, cancellationToken);
        return DingTalkErrors.IsInvalidToken(response.StatusCode, error?.Code);
    }
}
