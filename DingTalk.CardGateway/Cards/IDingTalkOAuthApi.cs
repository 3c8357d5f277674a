using DingTalk.CardGateway.Cards.Wire;
using Refit;

namespace DingTalk.CardGateway.Cards;

/// <summary>DingTalk's token endpoint. The only call made without an access token.</summary>
public interface IDingTalkOAuthApi
{
    public const string AccessTokenPath = "/v1.0/oauth2/accessToken";

    [Post(AccessTokenPath)]
    Task<AccessTokenResponse> GetAccessTokenAsync([Body] AccessTokenRequest request, CancellationToken cancellationToken);
}
