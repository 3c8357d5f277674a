using System.Net;
using DingTalk.CardGateway.Cards.Wire;

namespace DingTalk.CardGateway.Cards;

/// <summary>Turns DingTalk's status and error code into what to do about it. The one place that knows the codes.</summary>
public static class DingTalkErrors
{
    /// <summary>createAndDeliver (or create) with an outTrackId DingTalk already has a card for.</summary>
    public const string OutTrackIdExists = "param.outTrackIdExist";

    /// <summary>An update (or streaming frame) for an outTrackId or cardBizId DingTalk has no card for.</summary>
    public const string CardNotExists = "param.cardNotExist";

    /// <summary>Our own code: DingTalk answered 200 without <c>success</c> (the call may or may not have been carried out).</summary>
    public const string NotSucceeded = "gateway.notSucceeded";

    /// <summary>Our own code: DingTalk (or something in between) answered 2xx with a body that is not DingTalk's JSON.</summary>
    public const string UnreadableAnswer = "gateway.unreadableAnswer";

    /// <summary>The token call (or the Stream open call) with an AppKey and AppSecret DingTalk does not know together.</summary>
    public const string InvalidCredentials = "invalidClientIdOrSecret";

    /// <summary>
    /// For a refusal the operator fixes in the configuration, the keys to change, as a clause to end a sentence with
    /// (<c>"; check DingTalk:AppKey and DingTalk:AppSecret"</c>); else empty.
    /// </summary>
    public static string KeysToCheck(string? code) =>
        code == InvalidCredentials ? "; check DingTalk:AppKey and DingTalk:AppSecret" : "";

    /// <summary>
    /// What failed under a call through a Refit client: Refit wraps what its handlers throw before any answer (DingTalk
    /// refusing the token call, the network's own failure) in an <c>ApiRequestException</c>, whose type name says nothing.
    /// </summary>
    public static Exception CauseOf(Exception exception) =>
        exception is Refit.ApiRequestException { InnerException: { } inner } ? inner : exception;

    /// <summary>For a DingTalk that could not be reached at all, what to check, as a clause to end a sentence with.</summary>
    public const string CheckTheNetworkPath = "check DingTalk:ApiBaseUrl and the network path to it";

    public static DingTalkErrorKind Classify(HttpStatusCode status, string? code)
    {
        var s = (int)status;
        if (IsInvalidToken(status, code))
        {
            return DingTalkErrorKind.InvalidToken;
        }

        if (IsThrottled(status, code) || s == 429 || s >= 500)
        {
            return DingTalkErrorKind.Transient;
        }

        if (code is CardNotExists or "param.templateNotExist" or "param.templateUnpublished")
        {
            return DingTalkErrorKind.NotFound;
        }

        return s is 403 or 401 || code == InvalidCredentials ? DingTalkErrorKind.Refused : DingTalkErrorKind.BadRequest;
    }

    /// <summary>An expired, unknown or invalid token: DingTalk answers 400 <c>InvalidAuthentication</c>; a 401 is treated alike.</summary>
    public static bool IsInvalidToken(HttpStatusCode status, string? code) =>
        status == HttpStatusCode.Unauthorized
        || (status == HttpStatusCode.BadRequest && string.Equals(code, "InvalidAuthentication", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// DingTalk asks the caller to wait, not to give up: its throttling (<see cref="IsThrottled"/>) or its refusal of
    /// streaming frames that come too fast (<see cref="IsStreamingPaceRefusal"/>). The HTTP retries wait it out, and past
    /// them the refusal is <see cref="DingTalkErrorKind.Transient"/> (<see cref="DingTalkApiException.AskedToWait"/>).
    /// </summary>
    public static bool AsksToWait(HttpRequestMessage? request, HttpStatusCode status, DingTalkErrorBody? error) =>
        IsThrottled(status, error?.Code) || IsStreamingPaceRefusal(request, status, error);

    /// <summary>
    /// DingTalk's refusal of streaming frames that come too close to one card: a 403 whose body DingTalk does not publish
    /// (dingtalk-wire.md §1). So every 403 to <see cref="IDingTalkCardApi.StreamingPath"/> that names no missing permission
    /// and no exhausted quota is taken for it — a pace to wait out, as throttling is, not a refusal for good.
    /// </summary>
    public static bool IsStreamingPaceRefusal(HttpRequestMessage? request, HttpStatusCode status, DingTalkErrorBody? error) =>
        status == HttpStatusCode.Forbidden
        && request?.Method == HttpMethod.Put
        && request.RequestUri?.AbsolutePath.EndsWith(IDingTalkCardApi.StreamingPath, StringComparison.Ordinal) == true
        && error?.AccessDeniedDetail?.RequiredScopes is not { Count: > 0 }
        && error?.Code is not (PermissionDenied or QuotaExhausted);

    /// <summary>The app lacks a permission the call needs (the 403 names it under <c>accessdenieddetail.requiredScopes</c>).</summary>
    public const string PermissionDenied = "Forbidden.AccessDenied.AccessTokenPermissionDenied";

    /// <summary>The organisation's monthly call quota is spent.</summary>
    public const string QuotaExhausted = "Forbidden.AccessDenied.ApiCountLimitForOrg";

    /// <summary>DingTalk's per-app, per-API throttling: 403 <c>Forbidden.AccessDenied.QpsLimit…</c> / <c>QpmLimit…</c>.</summary>
    public static bool IsThrottled(HttpStatusCode status, string? code) =>
        status == HttpStatusCode.Forbidden && code is not null
        && (code.StartsWith("Forbidden.AccessDenied.Qps", StringComparison.Ordinal)
            || code.StartsWith("Forbidden.AccessDenied.Qpm", StringComparison.Ordinal));
}
