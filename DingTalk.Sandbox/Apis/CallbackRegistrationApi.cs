using System.Security.Cryptography;
using System.Text.Json.Nodes;
using DingTalk.Sandbox.Wire;

namespace DingTalk.Sandbox.Apis;

/// <summary>POST /v1.0/card/callbacks/register: one route key maps to one URL.</summary>
internal static class CallbackRegistrationApi
{
    public static SandboxAnswer Register(SandboxCall call, SandboxState state)
    {
        if (call.ReadBody(DingTalkSchemas.RegisterCallback, out var body) is { } invalid)
        {
            return invalid;
        }

        var routeKey = body.Text("callbackRouteKey")!;
        var url = body.Text("callbackUrl")!;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return SandboxAnswer.Invalid($"callbackUrl must be an absolute http(s) URL, not '{url}'");
        }

        // DingTalk's documented conflict behaviour: without forceUpdate, a key mapped elsewhere keeps its
        // mapping and the answer is a 200 carrying the old URL and secret (also one mapped here, if the state says so).
        if (state.CallbackMap.TryGetValue(routeKey, out var existing)
            && (existing.CallbackUrl != url || state.KeepsRegistrationsWithoutForceUpdate)
            && body.Flag("forceUpdate") != true)
        {
            return Answer(existing);
        }

        var secret = body.Text("apiSecret") is { Length: > 0 } given ? given : RandomNumberGenerator.GetHexString(32, lowercase: true);
        var registered = new RegisteredCallback(routeKey, url, secret);
        state.CallbackMap[routeKey] = registered;
        return Answer(registered);
    }

    private static SandboxAnswer Answer(RegisteredCallback callback) => SandboxAnswer.Ok(new JsonObject
    {
        ["success"] = true,
        ["result"] = new JsonObject { ["callbackUrl"] = callback.CallbackUrl, ["apiSecret"] = callback.ApiSecret },
    });
}
