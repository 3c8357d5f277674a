using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using DingTalk.CardGateway.Hosting;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// A click on an advanced card as DingTalk posts it to <see cref="CardCallbackEndpoint.Path"/>: the body with its
/// JSON-string <c>content</c> (dingtalk-wire.md §2), signed with the callback secret. For testing a handler end to end
/// against a running gateway, as the README's "Testing a handler" does; the sandbox's secret by default.
/// </summary>
public static class CardClick
{
    /// <summary>
    /// The gateway's JSON conventions, nulls written: a member left null is posted as null, as a form posts a field left
    /// empty, and binds back as null. Left out, a nullable member C# requires (a positional parameter without a default, a
    /// <c>required</c> property) would be missing, and the record would not bind back.
    /// </summary>
    private static readonly JsonSerializerOptions FormOptions = new(GatewayJson.Options) { DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    /// <summary>A signed click by <paramref name="userId"/> on <paramref name="outTrackId"/>, with <paramref name="parameters"/> as its <c>params</c>.</summary>
    public static HttpRequestMessage Create(
        string outTrackId, string userId, object parameters, string apiSecret = SandboxDefaults.ApiSecret, string actionId = "btn", DateTimeOffset? signedAt = null) =>
        Signed(Body(outTrackId, userId, parameters, actionId), apiSecret, signedAt);

    /// <summary>
    /// A signed submit of a card's form: <paramref name="form"/>'s members as <c>params</c>, named in camelCase as the form's
    /// fields are (one left null as null), with <c>action</c> beside them — the record a handler binds with <c>context.ParamsAs&lt;T&gt;()</c>, posted
    /// back. For values the way a form may send them instead (<c>"3"</c> for a number, one id for a list), pass an anonymous
    /// object to <see cref="Create"/>.
    /// </summary>
    public static HttpRequestMessage Submit(
        string outTrackId, string userId, string action, object form, string apiSecret = SandboxDefaults.ApiSecret, string actionId = "submit", DateTimeOffset? signedAt = null)
    {
        var parameters = JsonSerializer.SerializeToNode(form, FormOptions)!.AsObject();
        parameters["action"] = action;
        return Create(outTrackId, userId, parameters, apiSecret, actionId, signedAt);
    }

    /// <summary>An <c>actionCallback</c> body as DingTalk sends it.</summary>
    public static string Body(string outTrackId, string userId, object parameters, string actionId = "btn") =>
        JsonSerializer.Serialize(new
        {
            type = "actionCallback",
            outTrackId,
            corpId = "dingCorp",
            userId,
            userIdType = 1,
            spaceType = "im",
            spaceId = "cidTest==",
            extension = "{}",
            content = Content(parameters, actionId),
        });

    /// <summary>The JSON string DingTalk puts in <c>content</c>: the clicked action id and the button's <c>params</c>.</summary>
    public static string Content(object parameters, string actionId = "btn") =>
        JsonSerializer.Serialize(new { cardPrivateData = new { actionIds = new[] { actionId }, @params = parameters } });

    /// <summary><paramref name="body"/> posted as DingTalk posts it, signed at <paramref name="signedAt"/> (now by default).</summary>
    public static HttpRequestMessage Signed(string body, string apiSecret, DateTimeOffset? signedAt = null)
    {
        var timestamp = (signedAt ?? DateTimeOffset.UtcNow).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var request = new HttpRequestMessage(HttpMethod.Post, CardCallbackEndpoint.Path) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add(CardCallbackSignature.TimestampHeader, timestamp);
        request.Headers.Add(CardCallbackSignature.SignatureHeader, CardCallbackSignature.Sign(timestamp, apiSecret));
        return request;
    }
}
