using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using DingTalk.Sandbox.Wire;
using Microsoft.AspNetCore.Http;

namespace DingTalk.Sandbox.Apis;

/// <summary>The app access token: the current API and the older <c>/gettoken</c> one the Node Stream SDK still uses.</summary>
internal static class TokenApi
{
    /// <summary>POST /v1.0/oauth2/accessToken {appKey, appSecret} → {accessToken, expireIn}.</summary>
    public static SandboxAnswer GetAccessToken(SandboxCall call, SandboxState state)
    {
        if (call.ReadBody(DingTalkSchemas.GetAccessToken, out var body) is { } invalid)
        {
            return invalid;
        }

        if (!IsApp(state.Options, body.Text("appKey")!, body.Text("appSecret")!))
        {
            return SandboxAnswer.Error(StatusCodes.Status400BadRequest, "invalidClientIdOrSecret", "invalid clientId or clientSecret");
        }

        var (token, expiresIn) = state.IssueToken();
        return SandboxAnswer.Ok(new JsonObject { ["accessToken"] = token, ["expireIn"] = expiresIn });
    }

    /// <summary>GET /gettoken?appkey=&amp;appsecret= → always 200, {errcode, errmsg, access_token, expires_in}.</summary>
    public static SandboxAnswer GetLegacyToken(SandboxCall call, SandboxState state)
    {
        var appKey = call.Query["appkey"].ToString();
        var appSecret = call.Query["appsecret"].ToString();
        if (appKey.Length == 0 || appSecret.Length == 0)
        {
            return SandboxAnswer.Ok(new JsonObject { ["errcode"] = 40035, ["errmsg"] = "missing appkey or appsecret" });
        }

        if (!IsApp(state.Options, appKey, appSecret))
        {
            return SandboxAnswer.Ok(new JsonObject { ["errcode"] = 40089, ["errmsg"] = "invalid appkey or appsecret" });
        }

        var (token, expiresIn) = state.IssueToken();
        return SandboxAnswer.Ok(new JsonObject
        {
            ["errcode"] = 0,
            ["errmsg"] = "ok",
            ["access_token"] = token,
            ["expires_in"] = expiresIn,
        });
    }

    private static bool IsApp(SandboxOptions options, string appKey, string appSecret) =>
        appKey == options.AppKey
        && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(appSecret), Encoding.UTF8.GetBytes(options.AppSecret));
}
