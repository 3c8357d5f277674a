using System.Globalization;
using System.Text;
using System.Text.Json;
using DingTalk.CardGateway.Callbacks;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>Callback requests as DingTalk sends them: the body with its JSON-string <c>content</c>, and the signature headers.</summary>
public static class DingTalkCallback
{
    /// <summary>An advanced-card <c>actionCallback</c> body, as in dingtalk-wire.md §2 (the product's <see cref="CardClick"/>).</summary>
    public static string Body(string outTrackId, string userId, object parameters, string actionId = "btn") => CardClick.Body(outTrackId, userId, parameters, actionId);

    /// <summary>A normal robot card's callback: named by cardBizId, with only the older <c>value</c>.</summary>
    public static string RobotBody(string cardBizId, string userId, object parameters) =>
        JsonSerializer.Serialize(new { cardBizId, userId, corpId = "dingCorp", value = CardClick.Content(parameters) });

    /// <summary>Signed the way DingTalk signs card callbacks, at <paramref name="signedAt"/> (now by default).</summary>
    public static HttpRequestMessage Signed(string body, string apiSecret, DateTimeOffset? signedAt = null) => CardClick.Signed(body, apiSecret, signedAt);

    public static HttpRequestMessage Unsigned(string body, params (string Name, string Value)[] headers) =>
        Post(CardCallbackEndpoint.Path, Encoding.UTF8.GetBytes(body), headers);

    public static HttpRequestMessage Post(string path, byte[] body, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    public static string Millis(DateTimeOffset at) => at.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
}
