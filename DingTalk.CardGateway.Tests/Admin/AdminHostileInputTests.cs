using System.Net;
using System.Net.Http.Json;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.CardGateway.Tests.Hosting;
using DingTalk.Sandbox.Stream;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace DingTalk.CardGateway.Tests.Admin;

/// <summary>
/// Hostile input with a valid admin key, field by field: every admin route with a body gets each of its fields as every
/// wrong kind of JSON value (and huge, nested, invalid UTF-8, 10,000 keys…), every query parameter garbage, every path id
/// hostile. Each answer is a 2xx or a problem-details 4xx that names the field, never a 5xx; and a refused request
/// leaves the store as it was (the cards' <c>GET</c> and the card list read the same before and after).
/// </summary>
public sealed class AdminHostileInputTests(AdminHostileInputTests.Gateway gateway, AdminHostileInputTests.Sandbox sandbox)
    : IClassFixture<AdminHostileInputTests.Gateway>, IClassFixture<AdminHostileInputTests.Sandbox>
{
    /// <summary>One gateway on real Kestrel with one advanced card (<c>{card}</c>) and one robot card (<c>{robot}</c>) the cases aim at.</summary>
    public sealed class Gateway : IAsyncLifetime
    {
        public FakeDingTalk DingTalk { get; private set; } = null!;

        public GatewayFactory Factory { get; private set; } = null!;

        public HttpClient Api { get; private set; } = null!;

        public string Card { get; } = $"hostile-{Guid.NewGuid():N}";

        public string Robot { get; } = $"hostile-robot-{Guid.NewGuid():N}";

        public async Task InitializeAsync()
        {
            DingTalk = await FakeDingTalk.StartAsync();
            Factory = new GatewayFactory(DingTalk);
            Factory.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
            Factory.StartServer();
            Api = Factory.CreateAdminClient();
            await HttpAssert.JsonAsync(await Api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = Card, openConversationId = "cidTest==", cardData = new { title = "t" } }), HttpStatusCode.Created);
            await HttpAssert.JsonAsync(await Api.PostAsJsonAsync("/api/robot-cards", new { cardBizId = Robot, openConversationId = "cidTest==", cardData = new { contents = Array.Empty<object>() } }), HttpStatusCode.Created);
        }

        public async Task DisposeAsync()
        {
            Api.Dispose();
            await Factory.DisposeAsync();
            await DingTalk.DisposeAsync();
        }
    }

    /// <summary>A hostile request: <c>{card}</c>, <c>{robot}</c> and <c>{new}</c> (an id no card has) in its path and body are filled in when sent.</summary>
    public sealed record HostileCase(string Method, string Path, byte[]? Body, string ContentType = "application/json", string? Field = null);

    public static TheoryData<string> CaseNames() => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task A_hostile_admin_request_gets_a_4xx_naming_the_field_or_is_taken_and_a_refusal_changes_nothing(string name)
    {
        var hostile = Cases[name];
        var fresh = $"hostile-new-{Math.Abs(name.GetHashCode(StringComparison.Ordinal)):x}-{Guid.NewGuid():N}"[..40];
        string Fill(string text) => text.Replace("{card}", gateway.Card, StringComparison.Ordinal)
            .Replace("{robot}", gateway.Robot, StringComparison.Ordinal).Replace("{new}", fresh, StringComparison.Ordinal);
        var before = await StoreAsync();

        using var request = new HttpRequestMessage(new HttpMethod(hostile.Method), Fill(hostile.Path));
        if (hostile.Body is not null)
        {
            request.Content = new ByteArrayContent(FillBytes(hostile.Body, Fill));
            if (hostile.ContentType.Length > 0)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", hostile.ContentType);
            }
        }

        using var response = await gateway.Api.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        var failure = EveryRouteFuzzTests.Judge(name, response, text, [GatewayFactory.AdminKey, GatewayFactory.ApiSecret, gateway.DingTalk.Options.AppSecret]);
        Assert.True(failure is null, failure);
        var status = (int)response.StatusCode;
        if (status == 400 && hostile.Field is { } field && text.Length > 0)
        {
            Assert.True(text.Contains(field, StringComparison.OrdinalIgnoreCase), $"{name}: the 400 does not name {field}: {text}");
        }

        if (status >= 400)
        {
            Assert.Equal(before, await StoreAsync());
            using var created = await gateway.Api.GetAsync($"/api/cards/{fresh}");
            Assert.Equal(HttpStatusCode.NotFound, created.StatusCode);
        }

        using var live = await gateway.Api.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    /// <summary>
    /// A gateway in Sandbox mode (its emulator under <c>/sandbox</c>, Stream connected to it) with an admin key of its own,
    /// an HTTP card (<c>{card}</c>), a Stream card (<c>{streamCard}</c>) and a robot card (<c>{robot}</c>) to click, and a
    /// token of the emulator's every request carries, so that hostile bodies reach past DingTalk's "no token".
    /// </summary>
    public sealed class Sandbox : IAsyncLifetime
    {
        public const string AdminKey = "hostile-sandbox-admin-key-0f3c9a";

        public WebApplicationFactory<Program> Factory { get; private set; } = null!;

        public HttpClient Client { get; private set; } = null!;

        /// <summary>The ids the cases aim at, by the body property or query parameter that names them.</summary>
        public Dictionary<string, string> Real { get; } = new(StringComparer.Ordinal)
        {
            ["card"] = $"hostile-sb-{Guid.NewGuid():N}",
            ["streamCard"] = $"hostile-sb-stream-{Guid.NewGuid():N}",
            ["robot"] = $"hostile-sb-robot-{Guid.NewGuid():N}",
        };

        public async Task InitializeAsync()
        {
            Factory = SandboxModeGateway.Start(streamEnabled: true, adminKey: AdminKey);
            Client = Factory.CreateClient();
            Client.DefaultRequestHeaders.Add(DingTalk.CardGateway.Admin.ApiKeyAuthenticationHandler.HeaderName, AdminKey);
            await Tests.Callbacks.Eventually.TrueAsync(async () => (await Client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, "ready: the Stream connection to the emulator");
            await HttpAssert.JsonAsync(await Client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = Real["card"], openConversationId = "cidSandbox==", callbackType = "HTTP" }), HttpStatusCode.Created);
            await HttpAssert.JsonAsync(await Client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = Real["streamCard"], openConversationId = "cidSandbox==", callbackType = "STREAM" }), HttpStatusCode.Created);
            await HttpAssert.JsonAsync(await Client.PostAsJsonAsync("/api/robot-cards", new { cardBizId = Real["robot"], openConversationId = "cidSandbox==", cardData = new { contents = Array.Empty<object>() } }), HttpStatusCode.Created);
            using var token = await Client.PostAsJsonAsync("/sandbox/v1.0/oauth2/accessToken", new { appKey = SandboxDefaults.AppKey, appSecret = SandboxDefaults.AppSecret });
            Client.DefaultRequestHeaders.Add("x-acs-dingtalk-access-token", (await HttpAssert.JsonAsync(token, HttpStatusCode.OK)).GetProperty("accessToken").GetString());
            Client.DefaultRequestHeaders.Accept.ParseAdd("application/json"); // what the Stream SDKs send: past the 406 of connections/open
        }

        public async Task DisposeAsync()
        {
            Client.Dispose();
            await Factory.DisposeAsync();
        }

        /// <summary>
        /// Every route the emulator maps under <c>/sandbox</c>, read from the live route table: method, path (the catch-all
        /// named as a path no route has), and the type of its JSON body when it binds one.
        /// </summary>
        public IReadOnlyList<SandboxRoute> Routes() =>
        [
            .. Factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
                .Where(e => e.RoutePattern.RawText?.StartsWith("/sandbox", StringComparison.Ordinal) == true)
                .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET", "POST"]).Select(method => new SandboxRoute(
                    method,
                    e.RoutePattern.RawText!.Replace("{**path}", "no/such/api", StringComparison.Ordinal),
                    e.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType))),
        ];
    }

    /// <summary>One route of the emulator; <see cref="Body"/> is null for one that binds no JSON body (DingTalk's APIs read theirs raw).</summary>
    public sealed record SandboxRoute(string Method, string Path, Type? Body)
    {
        /// <summary>The emulator's pages and clicks are for people and answer problem details; the rest speak DingTalk's wire.</summary>
        public bool ForPeople => Body is not null || Path is "/sandbox/" or "/sandbox/cards" or "/sandbox/requests";

        public override string ToString() => $"{Method} {Path}";
    }

    public static TheoryData<string> SandboxCaseNames() => [.. SandboxCases.Select(c => c.Name)];

    /// <summary>
    /// The emulator's routes (<c>/sandbox/*</c>: the card page, <c>/cards</c>, <c>/requests</c>, the clicks, DingTalk's
    /// APIs and the Stream endpoints) under the same theory, each kind of hostile input sent to every route the route table
    /// has: no 5xx, no stack trace or admin key in the answer, the gateway alive after; a refusal is problem details on the
    /// routes for people, DingTalk's <c>{code, message}</c> (or problem details, from below the emulator) on DingTalk's.
    /// </summary>
    [Theory]
    [MemberData(nameof(SandboxCaseNames))]
    public async Task A_hostile_sandbox_request_gets_a_4xx_without_a_leak_or_is_taken(string name)
    {
        var kind = SandboxCases.Single(c => c.Name == name);
        var routes = sandbox.Routes();
        Assert.Contains(routes, r => r.Path == "/sandbox" + StreamProtocol.OpenConnectionPath);
        Assert.Contains(routes, r => r.Path == "/sandbox" + StreamProtocol.ConnectPath);
        Assert.Contains(routes, r => r.Path == "/sandbox/clicks" && r.Body is not null);

        var failures = new List<string>();
        var sent = 0;
        foreach (var route in routes)
        {
            foreach (var probe in kind.Probes(route, Baseline(route, sandbox.Real)))
            {
                using var request = new HttpRequestMessage(new HttpMethod(route.Method), route.Path + probe.Query);
                if (probe.Body is not null)
                {
                    request.Content = new ByteArrayContent(probe.Body);
                    if (probe.ContentType.Length > 0)
                    {
                        request.Content.Headers.TryAddWithoutValidation("Content-Type", probe.ContentType);
                    }
                }

                if (probe.Upgrade)
                {
                    request.Headers.TryAddWithoutValidation("Connection", "Upgrade");
                    request.Headers.TryAddWithoutValidation("Upgrade", "websocket");
                    request.Headers.TryAddWithoutValidation("Sec-WebSocket-Version", "13");
                    request.Headers.TryAddWithoutValidation("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
                }

                using var response = await sandbox.Client.SendAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                sent++;
                if (JudgeSandbox($"{route} {probe.What}", route, response, text) is { } failure)
                {
                    failures.Add(failure);
                }
            }
        }

        Assert.True(sent > 0, $"{name}: nothing sent");
        Assert.True(failures.Count == 0, $"{failures.Count} of {sent} failed:\n" + string.Join('\n', failures.Take(30)));
        using var live = await sandbox.Client.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    private static string? JudgeSandbox(string what, SandboxRoute route, HttpResponseMessage response, string text)
    {
        if (EveryRouteFuzzTests.Judge(what, response, text, [Sandbox.AdminKey]) is not { } failure)
        {
            return null;
        }

        // DingTalk's APIs refuse as DingTalk does (wire file): {code, message, requestid} as JSON, not problem details.
        var status = (int)response.StatusCode;
        if (!route.ForPeople && status is >= 400 and < 500 && response.Content.Headers.ContentType?.MediaType == "application/json")
        {
            try
            {
                using var json = JsonDocument.Parse(text);
                if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("code", out _) && json.RootElement.TryGetProperty("message", out _))
                {
                    return null;
                }
            }
            catch (JsonException)
            {
            }
        }

        return failure;
    }

    /// <summary>
    /// A body the route takes: for a click, each property of its type the fixture has an id for (the Stream card for the
    /// Stream click), <c>userId</c> and empty <c>params</c>; for DingTalk's routes, an empty object.
    /// </summary>
    private static JsonObject Baseline(SandboxRoute route, Dictionary<string, string> real)
    {
        var body = new JsonObject();
        foreach (var name in BodyProperties(route))
        {
            JsonNode? value = name switch
            {
                "outTrackId" => route.Path.Contains("/stream/", StringComparison.Ordinal) ? real["streamCard"] : real["card"],
                "userId" => "u1",
                "params" => new JsonObject(),
                _ => null,
            };
            if (value is not null)
            {
                body[name] = value;
            }
        }

        return body;
    }

    private static string[] BodyProperties(SandboxRoute route) =>
        route.Body is null ? ["a"] : [.. route.Body.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name))];

    /// <summary>One request of a kind: a body (null for none), its Content-Type, a query string, and whether it asks for a WebSocket.</summary>
    private sealed record Probe(string What, byte[]? Body, string ContentType = "application/json", string Query = "", bool Upgrade = false);

    /// <summary>One kind of hostile input, and the probes it makes of a route given a body that route takes.</summary>
    private sealed record SandboxCase(string Name, Func<SandboxRoute, JsonObject, IEnumerable<Probe>> Probes);

    private static readonly (string What, JsonNode? Value)[] SandboxValues =
    [
        ("number", 12345), ("huge number", JsonNode.Parse("1e400")), ("true", true), ("string", "x"), ("empty string", ""),
        ("array", new JsonArray(1, "a", null)), ("object", new JsonObject { ["a"] = 1 }), ("null", null), ("NUL", "a\u0000b"),
        ("control characters", "a\u0001\u001b[31mb"), ("lone surrogate", "\ud800"), ("10 KB string", new string('a', 10 * 1024)),
        ("1 MB string", new string('x', 1024 * 1024)),
    ];

    private static readonly SandboxCase[] SandboxCases =
    [
        new("as is", (route, valid) => [new("as is", route.Method == "GET" ? null : Encoding.UTF8.GetBytes(valid.ToJsonString()))]),
        new("malformed JSON", (_, _) => new[] { "{", "{\"a\":", "[1,2", "nul", "{\"a\":1,}", "{'a':1}", "null", "[]", "12", "\"x\"", "", "\uFEFF{}" }
            .Select(body => new Probe($"malformed {body}", Encoding.UTF8.GetBytes(body)))),
        new("each field as every wrong kind", (route, valid) => BodyProperties(route).SelectMany(field => SandboxValues.Select(v =>
        {
            var body = valid.DeepClone().AsObject();
            body[field] = v.Value?.DeepClone();
            return new Probe($"{field} as {v.What}", Encoding.UTF8.GetBytes(body.ToJsonString()));
        }))),
        new("each field left out or named twice", (route, valid) => valid.Select(p => p.Key).ToList().SelectMany(field =>
        {
            var missing = valid.DeepClone().AsObject();
            missing.Remove(field);
            var text = valid.ToJsonString();
            return new[]
            {
                new Probe($"without {field}", Encoding.UTF8.GetBytes(missing.ToJsonString())),
                new Probe($"{field} twice", Encoding.UTF8.GetBytes(text[..^1] + $",\"{field}\":{valid[field]!.ToJsonString()}}}")),
            };
        })),
        new("huge, deep and broken bodies", (_, valid) =>
        {
            var garbage = new byte[4096];
            new Random(20261128).NextBytes(garbage);
            var text = valid.ToJsonString();
            return
            [
                new("nested 10,000 deep", Encoding.UTF8.GetBytes("{\"a\":" + new string('[', 10_000) + new string(']', 10_000) + "}")),
                new("3 MB pad", Encoding.UTF8.GetBytes((text.Length > 2 ? text[..^1] + "," : "{") + "\"pad\":\"" + new string('x', 3 * 1024 * 1024) + "\"}")),
                new("random bytes", garbage),
                new("invalid UTF-8", [.. "{\"userId\":\""u8, 0xFF, 0xFE, .. "\"}"u8]),
            ];
        }),
        new("wrong content types", (_, valid) => new[] { "text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=latin-1" }
            .Select(type => new Probe($"as '{type}'", Encoding.UTF8.GetBytes(valid.ToJsonString()), type))),
        new("hostile query values", (_, _) => new[] { "%00", "%01%1B", "%FF%FE", "..%2F..", new string('z', 4000), "%F0%9F%98%80", "1&ticket=2" }
            .SelectMany(value => new[] { new Probe($"?ticket={value[..Math.Min(value.Length, 24)]}", null, Query: $"?ticket={value}"), new Probe($"?outTrackId={value[..Math.Min(value.Length, 24)]}", null, Query: $"?outTrackId={value}") })),
        new("WebSocket upgrades with bad tickets", (_, _) => new[] { "", "?ticket=", "?ticket=made-up", "?ticket=%00", $"?ticket={new string('t', 4000)}" }
            .Select(query => new Probe($"upgrade {query[..Math.Min(query.Length, 24)]}", null, Query: query, Upgrade: true))),
    ];

    /// <summary>What a refused request must not change: the two cards as <c>GET</c> shows them, and the list of stored cards.</summary>
    private async Task<string> StoreAsync()
    {
        var card = await gateway.Api.GetStringAsync($"/api/cards/{gateway.Card}");
        var robot = await gateway.Api.GetStringAsync($"/api/robot-cards/{gateway.Robot}");
        var list = await gateway.Api.GetStringAsync("/api/cards?limit=500");
        return card + "\n" + robot + "\n" + list;
    }

    private static byte[] FillBytes(byte[] body, Func<string, string> fill)
    {
        // Bodies holding invalid UTF-8 are sent as they are: only valid text has placeholders worth filling.
        var text = Encoding.UTF8.GetString(body);
        return Encoding.UTF8.GetByteCount(text) == body.Length && Encoding.UTF8.GetBytes(text).AsSpan().SequenceEqual(body) ? Encoding.UTF8.GetBytes(fill(text)) : body;
    }

    /// <summary>The routes with a body, a body each takes, and its fields.</summary>
    private static readonly (string Method, string Path, string Valid)[] BodyRoutes =
    [
        ("POST", "/api/cards", """{"cardTemplateId":"tpl.poll","outTrackId":"{new}","openConversationId":"cidTest==","cardData":{"title":"x"},"privateData":{"u1":{"a":"b"}},"atUserIds":["u1"],"callbackType":"HTTP"}"""),
        ("POST", "/api/cards", """{"cardTemplateId":"tpl.poll","outTrackId":"{new}","userIds":["u1"],"cardData":{"title":"x"}}"""),
        ("PUT", "/api/cards/{card}", """{"cardData":{"title":"y"},"privateData":{"u1":{"a":"b"}},"replace":false}"""),
        ("POST", "/api/cards/{card}/stream", """{"key":"answer","content":"x","isFull":true,"isFinalize":false,"isError":false}"""),
        ("POST", "/api/robot-cards", """{"cardBizId":"{new}","openConversationId":"cidTest==","cardData":{"contents":[]},"resendUnconfirmed":false}"""),
        ("POST", "/api/robot-cards", """{"cardBizId":"{new}","userId":"u1","cardData":{"contents":[]}}"""),
        ("PUT", "/api/robot-cards/{robot}", """{"cardData":{"contents":[]},"userIdPrivateData":{"u1":{"a":"b"}},"replace":false}"""),
    ];

    /// <summary>Declared after <see cref="BodyRoutes"/>, which building them reads.</summary>
    public static readonly IReadOnlyDictionary<string, HostileCase> Cases = BuildCases();

    private static Dictionary<string, HostileCase> BuildCases()
    {
        var random = new Random(20261128);
        var cases = new Dictionary<string, HostileCase>(StringComparer.Ordinal);
        void Add(string name, HostileCase hostile) => cases.TryAdd(name, hostile);
        static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

        var hugeString = JsonValue.Create(new string('x', 1100 * 1024));
        var manyKeys = new JsonObject();
        var manyUsers = new JsonObject();
        var manyIds = new JsonArray();
        for (var i = 0; i < 10_000; i++)
        {
            manyKeys[$"k{i}"] = $"v{random.Next()}";
            manyUsers[$"user{i}"] = new JsonObject { ["vote"] = "A" };
            manyIds.Add($"user{i}");
        }

        (string What, JsonNode? Value)[] values =
        [
            ("number", 12345), ("huge number", JsonNode.Parse("1e400")), ("true", true), ("string", "x"), ("string true", "true"),
            ("empty string", ""), ("array", new JsonArray(1, "a", null)), ("object", new JsonObject { ["a"] = 1 }), ("null", null),
            ("nested object", new JsonObject { ["a"] = new JsonObject { ["b"] = new JsonArray(new JsonObject()) } }),
            ("NUL", "a\u0000b"), ("control characters", "a\u0001\u001b[31m\u007fb"), ("lone surrogate", "\ud800"), ("10 KB string", new string('a', 10 * 1024)),
            ("1 MB string", hugeString), ("unknown enum", "SMOKE_SIGNALS"), ("lowercase enum", "stream"), ("10,000 keys", manyKeys),
            ("10,000 users", manyUsers), ("10,000 ids", manyIds), ("object of nulls", new JsonObject { ["u1"] = null }),
            ("array of empties", new JsonArray("", " ")), ("object of arrays", new JsonObject { ["u1"] = new JsonArray(1) }),
        ];

        foreach (var (method, path, valid) in BodyRoutes)
        {
            var route = $"{method} {path}";
            var baseline = JsonNode.Parse(valid)!.AsObject();
            Add($"{route} valid {baseline.Count}", new(method, path, Utf8(valid)));
            foreach (var field in baseline.Select(p => p.Key).ToList())
            {
                foreach (var (what, value) in values)
                {
                    var body = baseline.DeepClone().AsObject();
                    body[field] = value?.DeepClone();
                    Add($"{route} {field} as {what}", new(method, path, Utf8(body.ToJsonString()), Field: field));
                }

                var missing = baseline.DeepClone().AsObject();
                missing.Remove(field);
                Add($"{route} without {field}", new(method, path, Utf8(missing.ToJsonString()), Field: field));

                var text = baseline.ToJsonString();
                var duplicated = text[..^1] + $",\"{field}\":{baseline[field]!.ToJsonString()}}}";
                Add($"{route} {field} twice", new(method, path, Utf8(duplicated), Field: field));

                var deep = text[..^1] + $",\"{field}\":" + new string('[', 10_000) + new string(']', 10_000) + "}";
                Add($"{route} {field} nested 10,000 deep", new(method, path, Utf8(deep.Replace($"\"{field}\":{baseline[field]!.ToJsonString()},", "", StringComparison.Ordinal))));

                // Invalid UTF-8 inside the field's string: the bytes 0xFF 0xFE where a character goes.
                var marked = baseline.DeepClone().AsObject();
                marked[field] = "\u0001MARK\u0001";
                var bytes = Utf8(marked.ToJsonString().Replace("\\u0001MARK\\u0001", "MARK", StringComparison.Ordinal));
                var at = bytes.AsSpan().IndexOf("MARK"u8);
                bytes[at] = 0xFF;
                bytes[at + 1] = 0xFE;
                Add($"{route} {field} invalid UTF-8", new(method, path, bytes));
            }

            string[] malformed = ["{", "{\"a\":", "[1,2", "nul", "{\"a\":1,}", "{'a':1}", "null", "[]", "12", "\"x\"", ""];
            foreach (var body in malformed)
            {
                Add($"{route} malformed {body}", new(method, path, Utf8(body)));
            }

            Add($"{route} no body", new(method, path, null));
            Add($"{route} text/plain", new(method, path, Utf8(valid), "text/plain"));
            Add($"{route} form", new(method, path, Utf8("a=1&b=2"), "application/x-www-form-urlencoded"));
            Add($"{route} no content type", new(method, path, Utf8(valid), ""));
            Add($"{route} 3 MB pad", new(method, path, Utf8(valid[..^1] + ",\"pad\":\"" + new string('x', 3 * 1024 * 1024) + "\"}")));
            var garbage = new byte[4096];
            random.NextBytes(garbage);
            Add($"{route} random bytes", new(method, path, garbage));
        }

        string[] limits = ["0", "-1", "501", "2147483648", "99999999999999999999", "abc", "1.5", "", "%20", "1e3", "0x10"];
        string[] junk = ["%00", "%01%1B", "%FF%FE", new string('z', 4000), "%F0%9F%98%80", "..%2F..", "null", "%22%22"];
        (string Path, string Parameter, string[] Values, string? Field)[] queries =
        [
            ("/api/cards", "limit", limits, "limit"),
            ("/api/cards", "after", [.. junk, "eyJ0IjoxfQ"], null),
            ("/api/cards", "undelivered", ["DEAD", "Dead", "deadly", "1", "", "dead,pending", .. junk], "undelivered"),
            ("/api/cards/{card}/callbacks", "limit", limits, "limit"),
            ("/api/cards/{card}/callbacks", "before", [.. junk, "{card}", "eyJ0IjoxfQ", "MTIzNDU2Nzg5MDEyMw"], "before"),
            ("/api/cards/{card}/callbacks", "userId", [.. junk], "userId"),
            ("/api/cards/{card}/callbacks", "outcome", ["1", "-7", "Handled,Unhandled", "Unknown", "", .. junk], "outcome"),
        ];
        foreach (var (path, parameter, parameterValues, field) in queries)
        {
            foreach (var value in parameterValues)
            {
                Add($"GET {path}?{parameter}={value[..Math.Min(value.Length, 24)]}", new("GET", $"{path}?{parameter}={value}", null, Field: value == "%00" ? null : field));
            }
        }

        foreach (var value in limits)
        {
            Add($"POST /api/cards/resend?limit={value}", new("POST", $"/api/cards/resend?undelivered=dead&limit={value}", null, Field: "limit"));
        }

        foreach (var value in new[] { "pending", "DEAD", "", "%01", "1" })
        {
            Add($"POST /api/cards/resend?undelivered={value}", new("POST", $"/api/cards/resend?undelivered={value}", null, Field: "undelivered"));
            Add($"POST /api/effects/retry?status={value}", new("POST", $"/api/effects/retry?effect=X&status={value}", null, Field: "status"));
        }

        foreach (var value in new[] { "", "%01", new string('E', 300), "%FF" })
        {
            Add($"POST /api/effects/retry?effect={value[..Math.Min(value.Length, 24)]}", new("POST", $"/api/effects/retry?status=dead&effect={value}", null, Field: "effect"));
        }

        string[] ids = ["%01%07", "%FF%FE", new string('i', 3000), "%F0%9F%98%80", "a%20b", "%2E%2E", "%7B%7D"];
        string[] idRoutes =
        [
            "GET /api/cards/{0}", "GET /api/robot-cards/{0}", "POST /api/cards/{0}/resend", "POST /api/robot-cards/{0}/resend",
            "DELETE /api/cards/{0}/dead-letters", "GET /api/cards/{0}/callbacks", "GET /api/callbacks/{0}",
            "POST /api/effects/{0}/retry", "DELETE /api/effects/{0}",
        ];
        foreach (var idRoute in idRoutes)
        {
            var (method, template) = (idRoute.Split(' ')[0], idRoute.Split(' ')[1]);
            foreach (var id in ids.Concat(template.Contains("effects", StringComparison.Ordinal) ? ["-1", "0", "99999999999999999999", "abc"] : []))
            {
                Add($"{method} {template} with {id[..Math.Min(id.Length, 24)]}", new(method, string.Format(template, id), null));
            }
        }

        return cases;
    }
}
