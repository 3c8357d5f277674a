using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using DingTalk.CardGateway.Admin;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// The README invites operators to send requests from Swagger UI, whose "Try it out" pre-fills each body with the
/// document's example (or, without one, makes one up from the schema: <c>replace: true</c> and empty maps, which emptied
/// a live card). So each example is taken as it is and harms no card; the document says what each request needs and
/// which values a field takes; and its descriptions read as English, not as C# documentation.
/// </summary>
public sealed partial class OpenApiRequestContractTests(DingTalkFixture fixture) : IClassFixture<DingTalkFixture>
{
    [Fact]
    public async Task Every_body_example_is_taken_as_it_is_and_leaves_the_cards_data_as_it_was()
    {
        using var client = fixture.Gateway.CreateAdminClient();

        await SendEveryExampleAsync(client);
    }

    [Fact]
    public async Task Every_body_example_is_taken_as_it_is_by_a_sandbox_gateway()
    {
        await using var sandbox = SandboxModeGateway.Start(streamEnabled: false);
        using var client = sandbox.CreateClient();
        client.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, ApiKeyAuthenticationHandler.SandboxKey);

        await SendEveryExampleAsync(client);
    }

    [Fact]
    public async Task No_description_reads_as_CSharp()
    {
        using var client = fixture.Gateway.CreateAdminClient();
        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));

        var texts = Texts(document.RootElement, "$").ToList();
        Assert.True(texts.Count > 50, $"only {texts.Count} descriptions in the document");
        var csharp = texts.Where(t => CSharpism().IsMatch(t.Text)).Select(t => $"{t.Where}: {t.Text}").ToList();
        Assert.True(csharp.Count == 0, "descriptions that read as C#:\n" + string.Join('\n', csharp));

        // A property named the C# way in its own type's description (Next, DeliverResults): the JSON says next, deliverResults.
        var pascal = new List<string>();
        foreach (var schema in document.RootElement.GetProperty("components").GetProperty("schemas").EnumerateObject())
        {
            var names = schema.Value.TryGetProperty("properties", out var properties) ? properties.EnumerateObject().Select(p => p.Name).ToList() : [];
            foreach (var (where, text) in Texts(schema.Value, schema.Name))
            {
                pascal.AddRange(names.Select(n => char.ToUpperInvariant(n[0]) + n[1..])
                    .Where(n => n.Skip(1).Any(char.IsUpper) && Regex.IsMatch(text, $@"\b{n}\b"))
                    .Select(n => $"{where}: {n} in \"{text}\""));
            }
        }

        Assert.True(pascal.Count == 0, "descriptions naming a property as C# does:\n" + string.Join('\n', pascal));
    }

    [Fact]
    public async Task Bodies_say_what_they_require_the_values_a_field_takes_and_their_defaults()
    {
        using var client = fixture.Gateway.CreateAdminClient();
        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));
        var schemas = document.RootElement.GetProperty("components").GetProperty("schemas");

        var send = schemas.GetProperty(nameof(SendCardRequest));
        Assert.Contains("cardTemplateId", Strings(send.GetProperty("required")));
        Assert.Equal("string", send.GetProperty("properties").GetProperty("cardTemplateId").GetProperty("type").GetString());
        Assert.Equal(new[] { "HTTP", "STREAM" }, Strings(send.GetProperty("properties").GetProperty("callbackType").GetProperty("enum")));

        var stream = schemas.GetProperty(nameof(StreamCardRequest));
        Assert.Equal(new[] { "content", "key" }, Strings(stream.GetProperty("required")).Order());
        Assert.Equal("string", stream.GetProperty("properties").GetProperty("key").GetProperty("type").GetString());
        Assert.True(stream.GetProperty("properties").GetProperty("isFull").GetProperty("default").GetBoolean());
        Assert.False(stream.GetProperty("properties").GetProperty("isFinalize").GetProperty("default").GetBoolean());

        Assert.False(schemas.GetProperty(nameof(UpdateCardDataRequest)).GetProperty("properties").GetProperty("replace").GetProperty("default").GetBoolean());
        Assert.False(schemas.GetProperty(nameof(UpdateRobotCardRequest)).GetProperty("properties").GetProperty("replace").GetProperty("default").GetBoolean());
        Assert.Contains("cardData", Strings(schemas.GetProperty(nameof(UpdateRobotCardRequest)).GetProperty("required")));
        Assert.Contains("cardData", Strings(schemas.GetProperty(nameof(SendRobotCardRequest)).GetProperty("required")));
    }

    [Theory]
    [InlineData("/api/cards", "get", "undelivered", false, new[] { "dead", "pending" })]
    [InlineData("/api/cards/resend", "post", "undelivered", true, new[] { "dead" })]
    [InlineData("/api/effects/retry", "post", "status", true, new[] { "dead" })]
    [InlineData("/api/effects/retry", "post", "effect", true, null)]
    public async Task Query_parameters_say_whether_they_are_required_and_the_values_they_take(string path, string method, string name, bool required, string[]? values)
    {
        using var client = fixture.Gateway.CreateAdminClient();
        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));

        var parameter = Parameter(document.RootElement.GetProperty("paths").GetProperty(path).GetProperty(method), name);

        Assert.Equal(required, parameter.TryGetProperty("required", out var r) && r.GetBoolean());
        Assert.Equal(values, parameter.GetProperty("schema").TryGetProperty("enum", out var e) ? Strings(e) : null);
    }

    /// <summary>The outcomes listed are the enum's, so the list cannot fall behind a new outcome.</summary>
    [Theory]
    [InlineData("/api/callbacks")]
    [InlineData("/api/cards/{outTrackId}/callbacks")]
    public async Task The_outcome_filter_lists_every_callback_outcome(string path)
    {
        using var client = fixture.Gateway.CreateAdminClient();
        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));

        var outcome = Parameter(document.RootElement.GetProperty("paths").GetProperty(path).GetProperty("get"), "outcome");

        Assert.Equal(Enum.GetNames<CallbackOutcome>(), Strings(outcome.GetProperty("schema").GetProperty("enum")));
    }

    /// <summary>
    /// What the document says of a query is what the endpoint does: sent with its required parameters (each the first value
    /// it lists), every operation taking query parameters answers 2xx, and so it does for every value listed; without one
    /// it says is required, a 400 naming it.
    /// </summary>
    [Fact]
    public async Task Every_listed_query_value_is_taken_and_every_required_parameter_is_refused_when_left_out()
    {
        using var client = fixture.Gateway.CreateAdminClient();
        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));
        var card = await CreateCardsAsync(client);

        var failures = new List<string>();
        var checkedValues = 0;
        foreach (var (path, method, operation) in Operations(document.RootElement))
        {
            var query = operation.TryGetProperty("parameters", out var all) ? all.EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query").ToList() : [];
            var required = query.Where(p => p.TryGetProperty("required", out var r) && r.GetBoolean()).ToDictionary(p => p.GetProperty("name").GetString()!, Value);
            var target = Fill(path, card);

            async Task<(HttpStatusCode Status, string Body)> SendAsync(IReadOnlyDictionary<string, string> parameters)
            {
                var uri = parameters.Count == 0 ? target : target + "?" + string.Join('&', parameters.Select(p => $"{p.Key}={Uri.EscapeDataString(p.Value)}"));
                using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), uri));
                return (response.StatusCode, await response.Content.ReadAsStringAsync());
            }

            foreach (var parameter in query)
            {
                var name = parameter.GetProperty("name").GetString()!;
                foreach (var value in parameter.GetProperty("schema").TryGetProperty("enum", out var values) ? Strings(values) : [])
                {
                    checkedValues++;
                    var (status, body) = await SendAsync(new Dictionary<string, string>(required) { [name] = value });
                    if ((int)status is < 200 or > 299)
                    {
                        failures.Add($"{method.ToUpperInvariant()} {path}?{name}={value}: {(int)status} {body}");
                    }
                }

                if (required.ContainsKey(name))
                {
                    var (status, body) = await SendAsync(required.Where(p => p.Key != name).ToDictionary());
                    if (status != HttpStatusCode.BadRequest || !body.Contains($"\"{name}\"", StringComparison.Ordinal))
                    {
                        failures.Add($"{method.ToUpperInvariant()} {path} without {name} (required): {(int)status} {body}");
                    }
                }
            }
        }

        Assert.True(checkedValues >= 12, $"only {checkedValues} listed values in the document's query parameters");
        Assert.True(failures.Count == 0, string.Join('\n', failures));

        static string Value(JsonElement parameter) =>
            parameter.GetProperty("schema").TryGetProperty("enum", out var values) ? values[0].GetString()! : "SomeEffect";
    }

    /// <summary>
    /// Sends each operation's body example as Swagger UI pre-fills it, with the admin key, ids of real cards in its path:
    /// none is refused, and after each the cards still hold what they held.
    /// </summary>
    private static async Task SendEveryExampleAsync(HttpClient client)
    {
        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));
        var cards = await CreateCardsAsync(client);

        var failures = new List<string>();
        var sent = 0;
        foreach (var (path, method, operation) in Operations(document.RootElement).Where(o => o.Operation.TryGetProperty("requestBody", out _)))
        {
            var what = $"{method.ToUpperInvariant()} {path}";
            if (PrefilledBody(document.RootElement, operation) is not { } example)
            {
                failures.Add($"{what}: no example, so Swagger UI would make one up from the schema");
                continue;
            }

            using var request = new HttpRequestMessage(new HttpMethod(method), Fill(path, cards))
            {
                Content = new StringContent(example.GetRawText(), Encoding.UTF8, "application/json"),
            };
            using var response = await client.SendAsync(request);
            sent++;
            if (!response.IsSuccessStatusCode)
            {
                failures.Add($"{what} with its example {example.GetRawText()}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }

            failures.AddRange((await LostDataAsync(client, cards)).Select(lost => $"{what} with its example {example.GetRawText()}: {lost}"));
        }

        Assert.True(sent >= 5, $"only {sent} operations with a body in the OpenAPI document");
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    /// <summary>An advanced card with public and private data, and a robot card, each with an id of its own.</summary>
    private static async Task<Dictionary<string, string>> CreateCardsAsync(HttpClient client)
    {
        var card = $"example-{Guid.NewGuid():N}";
        var robot = $"example-robot-{Guid.NewGuid():N}";
        await HttpAssert.JsonAsync(
            await client.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.poll", outTrackId = card, openConversationId = "cidExample==", callbackType = "HTTP", cardData = new { title = "Lunch?" }, privateData = new { u1 = new { myVote = "A" } } }),
            HttpStatusCode.Created);
        await HttpAssert.JsonAsync(
            await client.PostAsJsonAsync("/api/robot-cards", new { cardBizId = robot, openConversationId = "cidExample==", cardData = new { header = new { title = new { type = "text", text = "Robot lunch?" } } } }),
            HttpStatusCode.Created);
        return new Dictionary<string, string> { ["outTrackId"] = card, ["cardId"] = card, ["cardBizId"] = robot };
    }

    /// <summary>What the cards of <see cref="CreateCardsAsync"/> no longer hold of what they were created with.</summary>
    private static async Task<List<string>> LostDataAsync(HttpClient client, Dictionary<string, string> cards)
    {
        var lost = new List<string>();
        var card = (await HttpAssert.JsonAsync(await client.GetAsync($"/api/cards/{cards["outTrackId"]}"), HttpStatusCode.OK)).GetProperty("card");
        if (!card.GetProperty("publicData").TryGetProperty("title", out var title) || title.GetString() != "Lunch?")
        {
            lost.Add($"the card's title is gone: {card.GetProperty("publicData")}");
        }

        if (!card.GetProperty("privateData").TryGetProperty("u1", out var u1) || !u1.TryGetProperty("myVote", out var vote) || vote.GetString() != "A")
        {
            lost.Add($"u1's private data is gone: {card.GetProperty("privateData")}");
        }

        var robot = (await HttpAssert.JsonAsync(await client.GetAsync($"/api/robot-cards/{cards["cardBizId"]}"), HttpStatusCode.OK)).GetProperty("card");
        if (robot.GetProperty("publicData").GetProperty("cardData").GetString() is not { } json || !json.Contains("Robot lunch?", StringComparison.Ordinal))
        {
            lost.Add($"the robot card's header is gone: {robot.GetProperty("publicData")}");
        }

        return lost;
    }

    /// <summary>The body Swagger UI pre-fills: the media type's example, else the schema's (its first <c>examples</c>, or <c>example</c>).</summary>
    private static JsonElement? PrefilledBody(JsonElement root, JsonElement operation)
    {
        var media = operation.GetProperty("requestBody").GetProperty("content").GetProperty("application/json");
        if (media.TryGetProperty("example", out var example))
        {
            return example;
        }

        var schema = media.GetProperty("schema");
        if (schema.TryGetProperty("$ref", out var reference))
        {
            schema = root.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/')[^1]);
        }

        return schema.TryGetProperty("examples", out var examples) && examples.GetArrayLength() > 0 ? examples[0]
            : schema.TryGetProperty("example", out example) ? example
            : null;
    }

    private static IEnumerable<(string Path, string Method, JsonElement Operation)> Operations(JsonElement root) =>
        from path in root.GetProperty("paths").EnumerateObject()
        from method in path.Value.EnumerateObject()
        where method.Name is "get" or "put" or "post" or "delete" or "patch"
        select (path.Name, method.Name, method.Value);

    /// <summary><paramref name="path"/> with the ids of <paramref name="ids"/> in its parameters (an effect's id: one no effect has).</summary>
    private static string Fill(string path, Dictionary<string, string> ids) =>
        PathParameter().Replace(path, m => Uri.EscapeDataString(ids.GetValueOrDefault(m.Groups[1].Value, "987654321")));

    private static JsonElement Parameter(JsonElement operation, string name) =>
        operation.GetProperty("parameters").EnumerateArray().Single(p => p.GetProperty("name").GetString() == name);

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(v => v.GetString()!)];

    /// <summary>Every description and summary under <paramref name="element"/>, with where it is.</summary>
    private static IEnumerable<(string Where, string Text)> Texts(JsonElement element, string where)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (property.Name is "description" or "summary" && property.Value.ValueKind == JsonValueKind.String)
                {
                    yield return (where, property.Value.GetString()!);
                }
                else
                {
                    foreach (var text in Texts(property.Value, $"{where}.{property.Name}"))
                    {
                        yield return text;
                    }
                }
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            var index = 0;
            foreach (var item in element.EnumerateArray())
            {
                foreach (var text in Texts(item, $"{where}[{index++}]"))
                {
                    yield return text;
                }
            }
        }
    }

    /// <summary>
    /// How C# documentation renders in a description: escaped generics (<c>IReadOnlyList&lt;string&gt;</c>), nullable and
    /// keyword types (<c>string?</c>, <c>bool </c>), collection interfaces, a member as <c>Type.Member</c>, a raw cref.
    /// </summary>
    [GeneratedRegex(@"&lt;|&gt;|&amp;|\b(string|int|long|bool|DateTimeOffset|CardRecord)\?|\bbool |IReadOnly|IEnumerable|<see |cref=|\b[A-Z][A-Za-z0-9]*\.[A-Z][A-Za-z0-9]*\b")]
    private static partial Regex CSharpism();

    [GeneratedRegex(@"\{([^}]+)\}")]
    private static partial Regex PathParameter();
}
