using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.CardGateway.Tests.Hosting;

namespace DingTalk.CardGateway.Tests.Admin;

/// <summary>
/// Hostile input with a valid admin key, field by field: every admin route with a body gets each of its fields as every
/// wrong kind of JSON value (and huge, nested, invalid UTF-8, 10,000 keys…), every query parameter garbage, every path id
/// hostile. Each answer is a 2xx or a problem-details 4xx that names the field, never a 5xx; and a refused request
/// leaves the store as it was (the cards' <c>GET</c> and the card list read the same before and after).
/// </summary>
public sealed class AdminHostileInputTests(AdminHostileInputTests.Gateway gateway) : IClassFixture<AdminHostileInputTests.Gateway>
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
