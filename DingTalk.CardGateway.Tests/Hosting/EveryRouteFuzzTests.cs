using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Xunit.Abstractions;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// "Never a 500", route by route: every operation in the gateway's own OpenAPI document gets the same deterministic set of
/// hostile requests, and each answer is a 2xx or a problem-details 4xx without a stack trace or a configured secret.
/// </summary>
public sealed class EveryRouteFuzzTests(ITestOutputHelper output) : IAsyncLifetime
{
    private FakeDingTalk _dingTalk = null!;
    private GatewayFactory _gateway = null!;

    public async Task InitializeAsync()
    {
        _dingTalk = await FakeDingTalk.StartAsync();
        _gateway = new GatewayFactory(_dingTalk);
        // A real Kestrel on 127.0.0.1: what it refuses below the app (a NUL in a path, a stalled body) is part of the answer.
        _gateway.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        _gateway.StartServer();
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _dingTalk.DisposeAsync();
    }

    [Fact]
    public async Task Every_operation_in_the_OpenAPI_document_answers_hostile_requests_without_a_5xx_or_a_leak()
    {
        using var client = _gateway.CreateAdminClient();
        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));
        var operations = Operations(document.RootElement).ToList();
        Assert.True(operations.Count >= 10, $"only {operations.Count} operations in the OpenAPI document");
        operations.AddRange(Undocumented);

        var failures = new List<string>();
        var sent = 0;
        var statuses = new List<string>();
        foreach (var operation in operations)
        {
            foreach (var batch in HostileRequests(operation).Chunk(8))
            {
                var answers = await Task.WhenAll(batch.Select(async r =>
                {
                    using var request = r.Build();
                    using var response = await client.SendAsync(request);
                    return (Status: (int)response.StatusCode, Failure: Judge(r.What, response, await response.Content.ReadAsStringAsync()));
                }));
                sent += batch.Length;
                statuses.AddRange(answers.Select(a => $"{operation} {a.Status}"));
                failures.AddRange(answers.Select(a => a.Failure).OfType<string>());
            }
        }

        foreach (var group in statuses.GroupBy(s => s))
        {
            output.WriteLine($"{group.Key}: {group.Count()}");
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {sent} hostile requests failed:\n" + string.Join('\n', failures.Take(40)));
        using var live = await client.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);

        var logs = _gateway.RenderedLogs();
        Assert.DoesNotContain(_gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 9001);
        foreach (var secret in Secrets())
        {
            Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
        }
    }

    private string[] Secrets() => [GatewayFactory.AdminKey, GatewayFactory.ApiSecret, _dingTalk.Options.AppSecret];

    private string? Judge(string what, HttpResponseMessage response, string text)
    {
        var status = (int)response.StatusCode;
        if (status >= 500)
        {
            return $"{what}: {status} {Shorten(text)}";
        }

        if (text.Contains("   at ", StringComparison.Ordinal) || Secrets().Any(s => text.Contains(s, StringComparison.Ordinal)))
        {
            return $"{what}: a stack trace or secret in the answer {Shorten(text)}";
        }

        // Kestrel refuses a request line past its limit (414) or a NUL in a path (400) before the app sees it, with no body:
        // nothing there to leak, and nothing the gateway can shape.
        if ((status is 414 or 431 || (status == 400 && what.Contains(" NUL", StringComparison.Ordinal))) && text.Length == 0 && response.Content.Headers.ContentType is null)
        {
            return null;
        }

        if (status >= 400 && response.Content.Headers.ContentType?.MediaType != "application/problem+json")
        {
            return $"{what}: {status} as {response.Content.Headers.ContentType?.MediaType ?? "no content type"} {Shorten(text)}";
        }

        return null;
    }

    private static string Shorten(string text) => text.Length > 300 ? text[..300] + "…" : text;

    /// <summary>One operation of the document: its method, path template, parameters and body properties.</summary>
    private sealed record Operation(string Method, string Path, string[] PathParameters, string[] QueryParameters, bool HasBody, string[] BodyProperties)
    {
        public override string ToString() => $"{Method} {Path}";
    }

    /// <summary>The routes kept out of the document (DingTalk's and the probes'), fuzzed all the same.</summary>
    private static readonly Operation[] Undocumented =
    [
        new("POST", CardCallbackEndpoint.Path, [], [], true, ["outTrackId", "userId", "content", "value", "type", "corpId", "spaceId"]),
        new("POST", RobotCardCallbackEndpoint.Path, ["token"], [], true, ["cardBizId", "userId", "content", "value", "type"]),
        new("GET", "/health/live", [], [], false, []),
        new("GET", "/health/ready", [], [], false, []),
    ];

    private sealed record Hostile(string What, Func<HttpRequestMessage> Build);

    private static IEnumerable<Operation> Operations(JsonElement root)
    {
        foreach (var path in root.GetProperty("paths").EnumerateObject())
        {
            foreach (var method in path.Value.EnumerateObject())
            {
                if (method.Name is "parameters" or "summary" or "description" or "servers")
                {
                    continue;
                }

                var parameters = method.Value.TryGetProperty("parameters", out var p) ? p.EnumerateArray().ToList() : [];
                string[] In(string where) => [.. parameters.Where(x => x.GetProperty("in").GetString() == where).Select(x => x.GetProperty("name").GetString()!)];
                var hasBody = method.Value.TryGetProperty("requestBody", out var body);
                var properties = hasBody ? BodyProperties(root, body) : [];
                yield return new Operation(method.Name.ToUpperInvariant(), path.Name, In("path"), In("query"), hasBody, properties);
            }
        }
    }

    private static string[] BodyProperties(JsonElement root, JsonElement body)
    {
        if (!body.TryGetProperty("content", out var content))
        {
            return [];
        }

        foreach (var media in content.EnumerateObject())
        {
            if (media.Value.TryGetProperty("schema", out var schema))
            {
                if (schema.TryGetProperty("$ref", out var reference))
                {
                    var name = reference.GetString()!.Split('/')[^1];
                    schema = root.GetProperty("components").GetProperty("schemas").GetProperty(name);
                }

                return schema.TryGetProperty("properties", out var properties) ? [.. properties.EnumerateObject().Select(x => x.Name)] : [];
            }
        }

        return [];
    }

    private static readonly (string What, string Value)[] HostileValues =
    [
        ("control characters", "a%01%07%1Fb"), ("10 KB", new string('a', 10 * 1024)), ("dot-dot-slash", "..%2F..%2Fetc%2Fpasswd"),
        ("raw dot-dot", ".."), ("NUL", "a%00b"), ("emoji", "%F0%9F%98%80"), ("lone surrogate bytes", "%ED%A0%80"), ("spaces", "%20%20"),
    ];

    private static readonly (string What, JsonNode? Value)[] WrongTypes =
    [
        ("string", JsonValue.Create("x")), ("number", JsonValue.Create(12345)), ("huge number", JsonNode.Parse("1e400")),
        ("bool", JsonValue.Create(true)), ("array", new JsonArray(1, "a", null)), ("object", new JsonObject { ["a"] = 1 }), ("null", null),
    ];

    private static IEnumerable<Hostile> HostileRequests(Operation operation)
    {
        string PathWith(string? parameter, string value)
        {
            var path = operation.Path;
            foreach (var name in operation.PathParameters)
            {
                path = path.Replace("{" + name + "}", name == parameter ? value : "fuzz1", StringComparison.Ordinal);
            }

            return path;
        }

        var plain = PathWith(null, "");
        Hostile Send(string what, string path, string? body = null, string contentType = "application/json", Action<HttpRequestMessage>? more = null) =>
            new($"{operation} {what}", () =>
            {
                var request = new HttpRequestMessage(new HttpMethod(operation.Method), path);
                if (body is not null)
                {
                    request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
                    if (contentType.Length > 0)
                    {
                        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
                    }
                }

                Sign(request);
                more?.Invoke(request);
                return request;
            });

        yield return Send("as is", plain, operation.HasBody ? "{}" : null);
        foreach (var parameter in operation.PathParameters)
        {
            foreach (var (what, value) in HostileValues)
            {
                yield return Send($"path {parameter} {what}", PathWith(parameter, value), operation.HasBody ? "{}" : null);
            }
        }

        foreach (var parameter in operation.QueryParameters.Append("unknownFuzzParameter"))
        {
            foreach (var (what, value) in HostileValues.Append(("negative", "-1")).Append(("huge number", "99999999999999999999")).Append(("repeated", "1&" + parameter + "=2")))
            {
                yield return Send($"query {parameter} {what}", $"{plain}?{parameter}={value}", operation.HasBody ? "{}" : null);
            }
        }

        // Bodies go to every operation: a GET or DELETE with a body is as hostile as a POST with a bad one.
        string[] malformed = ["{", "{\"a\":", "[1,2", "nul", "\"unterminated", "{\"a\":1,}", "\uFEFF{}", "{'a':1}", "null", "[]", "12", "\"x\"", ""];
        foreach (var body in malformed)
        {
            yield return Send($"malformed JSON {body}", plain, body);
        }

        foreach (var property in operation.BodyProperties)
        {
            foreach (var (what, value) in WrongTypes)
            {
                var body = new JsonObject { [property] = value?.DeepClone() };
                yield return Send($"body {property} as {what}", plain, body.ToJsonString());
            }
        }

        foreach (var depth in new[] { 64, 65, 10_000 })
        {
            var first = operation.BodyProperties.FirstOrDefault() ?? "a";
            yield return Send($"nesting {depth}", plain, $"{{\"{first}\":" + new string('[', depth) + new string(']', depth) + "}");
        }

        yield return Send("2 MB body", plain, "{\"pad\":\"" + new string('x', 2 * 1024 * 1024) + "\"}");
        var duplicate = operation.BodyProperties.FirstOrDefault() ?? "a";
        yield return Send("duplicate keys", plain, $"{{\"{duplicate}\":\"a\",\"{duplicate}\":\"b\"}}");
        yield return Send("text/plain", plain, "{}", "text/plain");
        yield return Send("form", plain, "a=1&b=2", "application/x-www-form-urlencoded");
        yield return Send("no content type", plain, "{}", "");
        yield return Send("garbage gzip", plain, "\u001f\u008bnot gzip at all", more: r => r.Content!.Headers.ContentEncoding.Add("gzip"));
    }

    /// <summary>The admin key is on the client; a valid card-callback signature goes on every request, so callback bodies are read.</summary>
    private static void Sign(HttpRequestMessage request)
    {
        var timestamp = DingTalkCallback.Millis(DateTimeOffset.UtcNow);
        request.Headers.TryAddWithoutValidation(CardCallbackSignature.TimestampHeader, timestamp);
        request.Headers.TryAddWithoutValidation(CardCallbackSignature.SignatureHeader, CardCallbackSignature.Sign(timestamp, GatewayFactory.ApiSecret));
    }
}
