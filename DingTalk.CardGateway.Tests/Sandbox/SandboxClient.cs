using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.SandboxTests;

/// <summary>What the fake answered: status, parsed JSON body and the headers that matter.</summary>
public sealed record SandboxReply(HttpStatusCode Status, JsonNode? Body, string? ContentType, string? RetryAfter)
{
    public string? Code => Body?["code"]?.GetValue<string>();

    public string Message => Body?["message"]?.GetValue<string>() ?? "";
}

/// <summary>A plain HTTP client for the fake, speaking raw JSON so tests control every byte.</summary>
public sealed class SandboxClient(FakeDingTalk dingTalk) : IDisposable
{
    private readonly HttpClient _http = dingTalk.CreateClient();

    /// <summary>Sent as <c>x-acs-dingtalk-access-token</c> when not null.</summary>
    public string? Token { get; set; }

    public async Task<string> LoginAsync()
    {
        var reply = await PostAsync("/v1.0/oauth2/accessToken", new JsonObject
        {
            ["appKey"] = dingTalk.Options.AppKey,
            ["appSecret"] = dingTalk.Options.AppSecret,
        });
        Assert.Equal(HttpStatusCode.OK, reply.Status);
        Token = reply.Body!["accessToken"]!.GetValue<string>();
        return Token;
    }

    public Task<SandboxReply> PostAsync(string path, JsonNode body) => SendAsync(HttpMethod.Post, path, body.ToJsonString());

    public Task<SandboxReply> PutAsync(string path, JsonNode body) => SendAsync(HttpMethod.Put, path, body.ToJsonString());

    public async Task<SandboxReply> SendAsync(HttpMethod method, string path, string? body, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        if (Token is not null)
        {
            request.Headers.TryAddWithoutValidation("x-acs-dingtalk-access-token", Token);
        }

        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return new SandboxReply(
            response.StatusCode,
            text.Length == 0 ? null : JsonNode.Parse(text),
            response.Content.Headers.ContentType?.ToString(),
            response.Headers.RetryAfter?.ToString());
    }

    public void Dispose() => _http.Dispose();
}
