using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace DingTalk.Sandbox.Wire;

/// <summary>What the sandbox answers: a status and a JSON body, errors in DingTalk's <c>{code, message, requestid}</c> shape.</summary>
internal sealed record SandboxAnswer(int Status, JsonNode Body, int? RetryAfterSeconds = null)
{
    public const string ContentType = "application/json;charset=utf-8";

    public static SandboxAnswer Ok(JsonNode body) => new(StatusCodes.Status200OK, body);

    public static SandboxAnswer Error(int status, string code, string message, int? retryAfterSeconds = null) =>
        new(status, new JsonObject { ["code"] = code, ["message"] = message, ["requestid"] = NewRequestId() }, retryAfterSeconds);

    /// <summary>400 <c>InvalidParameter</c>; the message names the field.</summary>
    public static SandboxAnswer Invalid(string message) => Error(StatusCodes.Status400BadRequest, "InvalidParameter", message);

    /// <summary>DingTalk's answer for an absent required parameter: <c>Missing&lt;name&gt;</c>, "&lt;name&gt; is mandatory for this action."</summary>
    public static SandboxAnswer Missing(string path)
    {
        var leaf = path[(path.LastIndexOf('.') + 1)..];
        return Error(StatusCodes.Status400BadRequest, "Missing" + leaf, $"{path} is mandatory for this action.");
    }

    /// <summary>DingTalk's 403 for an app that lacks a permission: the scopes it needs under <c>accessdenieddetail.requiredScopes</c>.</summary>
    public static SandboxAnswer PermissionDenied(IReadOnlyList<string> requiredScopes)
    {
        var answer = Error(
            StatusCodes.Status403Forbidden,
            "Forbidden.AccessDenied.AccessTokenPermissionDenied",
            $"The app has not been granted the permission this API needs: {string.Join(", ", requiredScopes)}");
        answer.Body["accessdenieddetail"] = new JsonObject { ["requiredScopes"] = new JsonArray([.. requiredScopes.Select(s => JsonValue.Create(s))]) };
        return answer;
    }

    public static SandboxAnswer CardNotExist(string outTrackId) =>
        Error(StatusCodes.Status400BadRequest, "param.cardNotExist", $"card {outTrackId} does not exist");

    public async Task WriteAsync(HttpResponse response)
    {
        response.StatusCode = Status;
        response.ContentType = ContentType;
        var requestId = Body is JsonObject obj && obj["requestid"] is JsonValue id ? id.ToString() : NewRequestId();
        response.Headers["x-acs-request-id"] = requestId;
        if (RetryAfterSeconds is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        await response.WriteAsync(Body.ToJsonString());
    }

    private static string NewRequestId() => Guid.NewGuid().ToString("D").ToUpperInvariant();
}
