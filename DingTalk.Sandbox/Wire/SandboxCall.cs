using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace DingTalk.Sandbox.Wire;

/// <summary>One received request, read once so it can be checked, answered and recorded.</summary>
internal sealed class SandboxCall
{
    public const string AccessTokenHeader = "x-acs-dingtalk-access-token";

    private const int MaxBodyBytes = 1024 * 1024;

    private SandboxCall(string method, string path, string? accessToken, string? contentType, string body, bool bodyTooLarge, IQueryCollection query)
    {
        Method = method;
        Path = path;
        AccessToken = accessToken;
        ContentType = contentType;
        Body = body;
        BodyTooLarge = bodyTooLarge;
        Query = query;
    }

    public string Method { get; }

    /// <summary>The path after the mount prefix, e.g. <c>/v1.0/card/instances</c>.</summary>
    public string Path { get; }

    public string? AccessToken { get; }

    public string? ContentType { get; }

    public string Body { get; }

    public bool BodyTooLarge { get; }

    public IQueryCollection Query { get; }

    /// <summary>Where the call came in, e.g. <c>http://127.0.0.1:41234</c>: answers that name a sandbox URL start here.</summary>
    public string Origin { get; private init; } = "";

    /// <summary>The mount prefix, e.g. <c>/sandbox</c> (empty at the root).</summary>
    public string Prefix { get; private init; } = "";

    /// <summary>The request's <c>Accept</c> header, empty when absent.</summary>
    public string Accept { get; private init; } = "";

    public static async Task<SandboxCall> ReadAsync(HttpContext context, string prefix)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "";
        if (prefix.Length > 0 && path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            path = path[prefix.Length..];
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        var tooLarge = false;
        int read;
        while ((read = await request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                tooLarge = true;
                break;
            }

            buffer.Write(chunk, 0, read);
        }

        var token = request.Headers.TryGetValue(AccessTokenHeader, out var values) ? values.ToString() : null;
        return new SandboxCall(
            request.Method,
            path,
            string.IsNullOrEmpty(token) ? null : token,
            request.ContentType,
            Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length),
            tooLarge,
            request.Query)
        {
            Origin = $"{request.Scheme}://{request.Host}",
            Prefix = prefix,
            Accept = request.Headers.Accept.ToString(),
        };
    }

    /// <summary>
    /// Parses the body as a JSON object and checks it against <paramref name="shape"/>; answers the first
    /// problem as DingTalk would (a non-JSON Content-Type or an empty body is <c>Missingbody</c>).
    /// </summary>
    public SandboxAnswer? ReadBody(ObjectShape shape, out JsonElement body)
    {
        body = default;
        if (BodyTooLarge)
        {
            return SandboxAnswer.Invalid($"body is larger than {MaxBodyBytes} bytes");
        }

        if (!IsJsonContentType(ContentType) || string.IsNullOrWhiteSpace(Body))
        {
            return SandboxAnswer.Missing("body");
        }

        try
        {
            using var document = JsonDocument.Parse(Body, new JsonDocumentOptions { AllowDuplicateProperties = false });
            body = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            return SandboxAnswer.Invalid($"body is not JSON: {e.Message}");
        }

        if (body.ValueKind != JsonValueKind.Object)
        {
            return SandboxAnswer.Invalid($"body must be a JSON object, not {JsonShape.Describe(body.ValueKind)}");
        }

        return shape.Check(body, "");
    }

    private static bool IsJsonContentType(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var mediaType)
        && (mediaType.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.MediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
}
