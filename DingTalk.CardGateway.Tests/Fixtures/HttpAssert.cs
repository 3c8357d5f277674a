using System.Net;
using System.Text.Json;

namespace DingTalk.CardGateway.Tests.Fixtures;

/// <summary>Reads answers the way a caller would, and checks problem details.</summary>
public static class HttpAssert
{
    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        return string.IsNullOrEmpty(text) ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>An RFC 7807 answer with this status and no stack trace or exception type in it.</summary>
    public static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await JsonAsync(response, expected);
        Assert.Equal((int)expected, problem.GetProperty("status").GetInt32());
        var raw = problem.GetRawText();
        Assert.DoesNotContain("   at ", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", raw, StringComparison.Ordinal);
        return problem;
    }
}
