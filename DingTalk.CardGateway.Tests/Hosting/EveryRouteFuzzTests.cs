using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
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
    public Task Every_operation_in_the_OpenAPI_document_answers_hostile_requests_without_a_5xx_or_a_leak() => FuzzEveryRouteAsync(_gateway);

    /// <summary>The same on PostgreSQL, which refuses what SQLite stores (a NUL, a key of 10 KB): each refusal a 400, not a 500.</summary>
    [SkippableFact]
    public async Task Every_operation_answers_hostile_requests_without_a_5xx_on_PostgreSQL_too()
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            var settings = GatewayFactory.PostgresSettings(connectionString, GatewayFactory.LiveSettings(_dingTalk));
            await using var gateway = new GatewayFactory(_dingTalk, settings);
            gateway.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
            gateway.StartServer();
            await FuzzEveryRouteAsync(gateway);
        });
    }

    private async Task FuzzEveryRouteAsync(GatewayFactory gateway)
    {
        using var client = gateway.CreateAdminClient();
        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));
        var operations = Operations(document.RootElement).ToList();
        Assert.True(operations.Count >= 10, $"only {operations.Count} operations in the OpenAPI document");
        operations.AddRange(Undocumented);

        var real = await RealCardsAsync(gateway, client);

        var failures = new List<string>();
        var sent = 0;
        var statuses = new List<string>();
        foreach (var operation in operations)
        {
            foreach (var batch in HostileRequests(operation, real).Chunk(8))
            {
                var answers = await Task.WhenAll(batch.Select(async r =>
                {
                    using var request = r.Build();
                    using var response = await client.SendAsync(request);
                    return (Status: (int)response.StatusCode, Failure: Judge(r.What, response, await response.Content.ReadAsStringAsync(), Secrets()));
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

        var logs = gateway.RenderedLogs();
        Assert.DoesNotContain(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 9001);
        foreach (var secret in Secrets())
        {
            Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
        }
    }

    /// <summary>Path parameters naming real cards (an advanced one, a robot one and its callback token), so that hostile requests reach past "not found" into each handler.</summary>
    private static async Task<Dictionary<string, string>> RealCardsAsync(GatewayFactory gateway, HttpClient client)
    {
        var outTrackId = $"fuzz-{Guid.NewGuid():N}";
        using var card = await client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId, openConversationId = "cidTest==", cardData = new { } });
        await HttpAssert.JsonAsync(card, HttpStatusCode.Created);
        var cardBizId = $"fuzz-robot-{Guid.NewGuid():N}";
        using var robot = await client.PostAsJsonAsync("/api/robot-cards", new { cardBizId, openConversationId = "cidTest==", cardData = new { contents = Array.Empty<object>() } });
        await HttpAssert.JsonAsync(robot, HttpStatusCode.Created);
        var token = new Uri(gateway.DingTalk.State.FindRobotCard(cardBizId)!.CallbackUrl!).AbsolutePath.Split('/')[^1];
        return new Dictionary<string, string> { ["outTrackId"] = outTrackId, ["cardId"] = outTrackId, ["cardBizId"] = cardBizId, ["token"] = token };
    }

    /// <summary>
    /// Swagger is the contract a caller writes its error handling from: every operation that takes a body declares the 413
    /// it answers for one past Kestrel's limit, and answers it as problem details without echoing the body.
    /// </summary>
    [Fact]
    public async Task Every_operation_with_a_body_declares_413_and_answers_an_oversized_body_with_it()
    {
        using var client = _gateway.CreateAdminClient();
        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));
        var withBody = Operations(document.RootElement).Where(o => o.HasBody).ToList();
        Assert.True(withBody.Count >= 5, $"only {withBody.Count} operations with a body in the OpenAPI document");
        var limit = _gateway.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits.MaxRequestBodySize!.Value;
        const string Marker = "oversized-body-marker";

        var failures = new List<string>();
        foreach (var operation in withBody)
        {
            if (!operation.Declared.Contains("413"))
            {
                failures.Add($"{operation}: 413 not declared (declares {string.Join(", ", operation.Declared)})");
            }

            var path = operation.PathParameters.Aggregate(operation.Path, (p, name) => p.Replace("{" + name + "}", "fuzz1", StringComparison.Ordinal));
            var answer = await RawAsync(stream => WriteAsync(stream,
                $"{operation.Method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {limit + 1}\r\n{AdminHeader()}\r\n{{\"{Marker}\":\"{Marker}"));
            if (!answer.StartsWith("HTTP/1.1 413", StringComparison.Ordinal) || !answer.Contains("application/problem+json", StringComparison.Ordinal) || answer.Contains(Marker, StringComparison.Ordinal))
            {
                failures.Add($"{operation}: a body of {limit + 1} bytes got {Shorten(answer)}");
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
        await AssertStillServingAsync();
    }

    /// <summary>
    /// Declared is answered: every status a hostile request gets — and a request without the admin key, and ids no card
    /// has — is one the document lists for its operation (what Kestrel refuses before the gateway sees it aside).
    /// </summary>
    [Fact]
    public async Task Every_status_a_hostile_request_gets_is_one_its_operation_declares()
    {
        using var admin = _gateway.CreateAdminClient();
        using var anonymous = _gateway.CreateClient();
        using var document = JsonDocument.Parse(await admin.GetStringAsync("/openapi/v1.json"));
        var operations = Operations(document.RootElement).ToList();
        var real = await RealCardsAsync(_gateway, admin);
        var unknown = operations.SelectMany(o => o.PathParameters).Distinct().ToDictionary(p => p, p => p == "id" ? "987654321" : $"unknown-{Guid.NewGuid():N}");

        var undeclared = new List<(string Operation, int Status, string What)>();
        var sent = 0;
        foreach (var operation in operations)
        {
            var hostile = HostileRequests(operation, real)
                .Append(Unsigned(operation, real, "without the admin key", withoutKey: true))
                .Append(Unsigned(operation, unknown, "ids no card has"));
            foreach (var batch in hostile.Chunk(8))
            {
                var answers = await Task.WhenAll(batch.Select(async r =>
                {
                    using var request = r.Build();
                    using var response = await (r.WithoutKey ? anonymous : admin).SendAsync(request);
                    return (r.What, Status: (int)response.StatusCode, KestrelsOwn: IsKestrelsOwn(r.What, response, await response.Content.ReadAsStringAsync()));
                }));
                sent += batch.Length;
                undeclared.AddRange(answers.Where(a => !a.KestrelsOwn && !operation.Declared.Contains(a.Status.ToString(CultureInfo.InvariantCulture))).Select(a => (operation.ToString(), a.Status, a.What)));
            }
        }

        var disagreements = undeclared.GroupBy(u => (u.Operation, u.Status)).Select(g => $"{g.Key.Operation} answers {g.Key.Status} ({g.Count()}×, e.g. {g.First().What}), undeclared").ToList();
        Assert.True(disagreements.Count == 0, $"{undeclared.Count} of {sent} answers are not declared:\n" + string.Join('\n', disagreements));
    }

    /// <summary>The operation as is (an empty JSON object for a body), with <paramref name="ids"/> in its path, and no callback signature.</summary>
    private static Hostile Unsigned(Operation operation, Dictionary<string, string> ids, string what, bool withoutKey = false) =>
        new($"{operation} {what}", () =>
        {
            var path = operation.PathParameters.Aggregate(operation.Path, (p, name) => p.Replace("{" + name + "}", ids.GetValueOrDefault(name, "fuzz1"), StringComparison.Ordinal));
            var request = new HttpRequestMessage(new HttpMethod(operation.Method), path);
            if (operation.HasBody)
            {
                request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
            }

            return request;
        }, withoutKey);

    /// <summary>A chunked body has no length to refuse up front: Kestrel stops it at the callback limit, and the answer is a 413.</summary>
    [Fact]
    public async Task A_chunked_callback_body_past_the_limit_gets_a_413_not_a_500()
    {
        foreach (var path in new[] { CardCallbackEndpoint.Path, RobotCardCallbackToken.RoutePrefix + "fuzz1" })
        {
            var answer = await RawAsync(async stream =>
            {
                await WriteAsync(stream, $"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n{SignatureHeaders()}\r\n");
                var chunk = Encoding.ASCII.GetBytes($"{64 * 1024:X}\r\n" + new string(' ', 64 * 1024) + "\r\n");
                for (var i = 0; i < 32; i++) // 2 MB, or until the gateway stops reading
                {
                    await stream.WriteAsync(chunk);
                }

                await WriteAsync(stream, "0\r\n\r\n");
            });

            Assert.True(answer.StartsWith("HTTP/1.1 413", StringComparison.Ordinal), $"{path}: {Shorten(answer)}");
            Assert.Contains("application/problem+json", answer, StringComparison.Ordinal);
        }

        await AssertStillServingAsync();
    }

    /// <summary>A Content-Length the client never sends in full: the read fails, the gateway answers 400 (or drops the connection), never a 500.</summary>
    [Fact]
    public async Task A_body_shorter_than_its_Content_Length_gets_no_500_on_any_body_route()
    {
        foreach (var (method, path) in new[] { ("POST", CardCallbackEndpoint.Path), ("POST", "/api/cards"), ("PUT", "/api/cards/fuzz1"), ("POST", "/api/robot-cards") })
        {
            var answer = await RawAsync(async stream =>
            {
                await WriteAsync(stream, $"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n{SignatureHeaders()}{AdminHeader()}\r\n{{\"outTrackId\":\"");
            }, halfClose: true);

            Assert.False(answer.StartsWith("HTTP/1.1 5", StringComparison.Ordinal), $"{method} {path}: {Shorten(answer)}");
        }

        await AssertStillServingAsync();
        Assert.DoesNotContain(_gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 9001);
    }

    /// <summary>
    /// A body that stalls mid-way: Kestrel's minimum body data rate (240 bytes/s after a 5 s grace) ends the read, and the
    /// gateway answers with a 4xx or drops the connection; meanwhile, and after, it serves everyone else.
    /// </summary>
    [Fact]
    public async Task A_body_that_stalls_midway_is_dropped_and_the_gateway_keeps_serving()
    {
        var stalled = new[] { ("POST", CardCallbackEndpoint.Path), ("POST", "/api/cards") }.Select(r => RawAsync(async stream =>
        {
            await WriteAsync(stream, $"{r.Item1} {r.Item2} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n{SignatureHeaders()}{AdminHeader()}\r\n{{\"a\":\"");
        }, readTimeout: TimeSpan.FromSeconds(60))).ToList();

        await AssertStillServingAsync();
        foreach (var answer in await Task.WhenAll(stalled))
        {
            Assert.False(answer.StartsWith("HTTP/1.1 5", StringComparison.Ordinal), Shorten(answer));
            Assert.NotEqual("still open", answer);
        }

        await AssertStillServingAsync();
        Assert.DoesNotContain(_gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 9001);
    }

    /// <summary>A request line or headers past Kestrel's limits are refused by Kestrel (414, 431) before the gateway sees them.</summary>
    [Fact]
    public async Task A_request_line_or_headers_past_Kestrels_limits_get_a_4xx()
    {
        var longLine = await RawAsync(stream => WriteAsync(stream, $"GET /api/cards?x={new string('a', 16 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n"));
        Assert.True(longLine.StartsWith("HTTP/1.1 414", StringComparison.Ordinal), Shorten(longLine));

        var bigHeaders = await RawAsync(stream => WriteAsync(stream,
            $"POST {CardCallbackEndpoint.Path} HTTP/1.1\r\nHost: x\r\n" + string.Concat(Enumerable.Range(0, 8).Select(i => $"X-Pad-{i}: {new string('a', 8 * 1024)}\r\n")) + "Content-Length: 0\r\n\r\n"));
        Assert.True(bigHeaders.StartsWith("HTTP/1.1 431", StringComparison.Ordinal), Shorten(bigHeaders));

        var manyHeaders = await RawAsync(stream => WriteAsync(stream,
            "GET /health/live HTTP/1.1\r\nHost: x\r\n" + string.Concat(Enumerable.Range(0, 150).Select(i => $"X-H-{i}: v\r\n")) + "\r\n"));
        Assert.True(manyHeaders.StartsWith("HTTP/1.1 431", StringComparison.Ordinal), Shorten(manyHeaders));

        await AssertStillServingAsync();
    }

    private static string SignatureHeaders() => string.Concat(SignedNow().Select(h => $"{h.Name}: {h.Value}\r\n"));

    /// <summary>A valid card-callback signature for now: its two headers.</summary>
    private static (string Name, string Value)[] SignedNow()
    {
        var timestamp = DingTalkCallback.Millis(DateTimeOffset.UtcNow);
        return [(CardCallbackSignature.TimestampHeader, timestamp), (CardCallbackSignature.SignatureHeader, CardCallbackSignature.Sign(timestamp, GatewayFactory.ApiSecret))];
    }

    private static string AdminHeader() => $"{DingTalk.CardGateway.Admin.ApiKeyAuthenticationHandler.HeaderName}: {GatewayFactory.AdminKey}\r\n";

    private static Task WriteAsync(System.IO.Stream stream, string text) => stream.WriteAsync(Encoding.ASCII.GetBytes(text)).AsTask();

    /// <summary>
    /// One raw HTTP/1.1 exchange with the gateway's Kestrel: what <paramref name="send"/> writes (a write the server cut
    /// short is no failure), then everything the server answers until it closes or goes quiet; "still open" when it
    /// neither answered nor closed within <paramref name="readTimeout"/>.
    /// </summary>
    private async Task<string> RawAsync(Func<System.IO.Stream, Task> send, bool halfClose = false, TimeSpan? readTimeout = null)
    {
        using var http = _gateway.CreateClient();
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, http.BaseAddress!.Port);
        var stream = tcp.GetStream();
        try
        {
            await send(stream);
            if (halfClose)
            {
                tcp.Client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            }
        }
        catch (IOException)
        {
            // The server stopped reading and reset the connection: its answer, if any, is still to be read.
        }

        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        using var quiet = new CancellationTokenSource(readTimeout ?? TimeSpan.FromSeconds(15));
        try
        {
            while (true)
            {
                var read = await stream.ReadAsync(buffer, quiet.Token);
                if (read == 0)
                {
                    break;
                }

                received.Write(buffer, 0, read);
                if (Encoding.ASCII.GetString(received.ToArray()).Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    quiet.CancelAfter(TimeSpan.FromMilliseconds(500)); // the head is in; take what body follows, then stop
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            if (received.Length == 0)
            {
                return ex is OperationCanceledException ? "still open" : "closed";
            }
        }

        var answer = received.Length == 0 ? "closed" : Encoding.UTF8.GetString(received.ToArray());
        output.WriteLine($"raw answer: {answer.Split('\r')[0]}");
        return answer;
    }

    private async Task AssertStillServingAsync()
    {
        using var client = _gateway.CreateClient();
        using var live = await client.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    private string[] Secrets() => [GatewayFactory.AdminKey, GatewayFactory.ApiSecret, _dingTalk.Options.AppSecret];

    /// <summary>What is wrong with an answer to a hostile request (a 5xx, a stack trace or a secret, a 4xx not problem details); null when nothing is.</summary>
    internal static string? Judge(string what, HttpResponseMessage response, string text, string[] secrets)
    {
        var status = (int)response.StatusCode;
        if (status >= 500)
        {
            return $"{what}: {status} {Shorten(text)}";
        }

        if (text.Contains("   at ", StringComparison.Ordinal) || secrets.Any(s => text.Contains(s, StringComparison.Ordinal)))
        {
            return $"{what}: a stack trace or secret in the answer {Shorten(text)}";
        }

        if (IsKestrelsOwn(what, response, text))
        {
            return null;
        }

        if (status >= 400 && response.Content.Headers.ContentType?.MediaType != "application/problem+json")
        {
            return $"{what}: {status} as {response.Content.Headers.ContentType?.MediaType ?? "no content type"} {Shorten(text)}";
        }

        return null;
    }

    /// <summary>
    /// Kestrel refuses a request line past its limit (414) or a NUL in a path (400) before the app sees it, with no body:
    /// nothing there to leak, and nothing the gateway can shape (or declare).
    /// </summary>
    private static bool IsKestrelsOwn(string what, HttpResponseMessage response, string text) =>
        ((int)response.StatusCode is 414 or 431 || ((int)response.StatusCode == 400 && what.Contains(" NUL", StringComparison.Ordinal)))
        && text.Length == 0 && response.Content.Headers.ContentType is null;

    private static string Shorten(string text) => text.Length > 300 ? text[..300] + "…" : text;

    /// <summary>One operation of the document: its method, path template, parameters and body properties.</summary>
    private sealed record Operation(string Method, string Path, string[] PathParameters, string[] QueryParameters, bool HasBody, string[] BodyProperties)
    {
        /// <summary>The statuses the document lists for the operation.</summary>
        public IReadOnlySet<string> Declared { get; init; } = new HashSet<string>();

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

    private sealed record Hostile(string What, Func<HttpRequestMessage> Build, bool WithoutKey = false);

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
                var declared = method.Value.TryGetProperty("responses", out var responses) ? responses.EnumerateObject().Select(r => r.Name).ToHashSet() : [];
                yield return new Operation(method.Name.ToUpperInvariant(), path.Name, In("path"), In("query"), hasBody, properties) { Declared = declared };
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

    private static IEnumerable<Hostile> HostileRequests(Operation operation, Dictionary<string, string> real)
    {
        string PathWith(string? parameter, string value)
        {
            var path = operation.Path;
            foreach (var name in operation.PathParameters)
            {
                path = path.Replace("{" + name + "}", name == parameter ? value : real.GetValueOrDefault(name, "fuzz1"), StringComparison.Ordinal);
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
        yield return Send("unknown charset", plain, "{}", "application/json; charset=latin-1");
        yield return Send("garbage gzip", plain, "\u001f\u008bnot gzip at all", more: r => r.Content!.Headers.ContentEncoding.Add("gzip"));
    }

    /// <summary>The admin key is on the client; a valid card-callback signature goes on every request, so callback bodies are read.</summary>
    private static void Sign(HttpRequestMessage request)
    {
        foreach (var (name, value) in SignedNow())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
    }
}
