using System.Net;
using System.Text;
using System.Text.Json;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>Whatever arrives at the callback routes, the gateway answers with a 2xx or a 4xx and keeps serving.</summary>
[Collection(CallbackGatewayCollection.Name)]
public class HostileInputTests(CallbackGateway gateway)
{
    [Fact]
    public async Task Hundreds_of_hostile_requests_get_no_5xx_and_the_gateway_still_answers()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.poll");
        var (cardBizId, robotPath) = await gateway.SendRobotCardAsync(new { contents = Array.Empty<object>() });
        var requests = HostileRequests(outTrackId, cardBizId, robotPath, new Random(20240613)).ToList();
        Assert.True(requests.Count >= 300, $"only {requests.Count} requests");

        var statuses = new List<(int Status, string What)>();
        foreach (var batch in requests.Chunk(16))
        {
            var answers = await Task.WhenAll(batch.Select(async r =>
            {
                using var request = DingTalkCallback.Post(r.Path, r.Body, r.Headers);
                using var response = await gateway.DingTalkClient.SendAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
                return ((int)response.StatusCode, r.What);
            }));
            statuses.AddRange(answers);
        }

        Assert.All(statuses, s => Assert.True(s.Status < 500, $"{s.What} got {s.Status}"));
        Assert.Contains(statuses, s => s.Status == 401);
        Assert.Contains(statuses, s => s.Status == 400);
        Assert.Contains(statuses, s => s.Status == 413);

        var vote = await gateway.ClickAsync(outTrackId, "survivor", new { action = "vote", option = "A" });
        Assert.Equal("A", vote.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("myVote").GetString());
        using var live = await gateway.DingTalkClient.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    private static IEnumerable<(string What, string Path, byte[] Body, (string, string)[] Headers)> HostileRequests(
        string outTrackId, string cardBizId, string robotPath, Random random)
    {
        const string card = CardCallbackEndpoint.Path;
        var now = DateTimeOffset.UtcNow;
        (string, string)[] Signed(DateTimeOffset at, string secret = GatewayFactory.ApiSecret)
        {
            var timestamp = DingTalkCallback.Millis(at);
            return [(CardCallbackSignature.TimestampHeader, timestamp), (CardCallbackSignature.SignatureHeader, CardCallbackSignature.Sign(timestamp, secret))];
        }

        var valid = Signed(now);
        byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
        var goodBody = Utf8(DingTalkCallback.Body(outTrackId, "u1", new { action = "vote", option = "A" }));

        for (var i = 0; i < 60; i++)
        {
            var bytes = new byte[random.Next(0, 2048)];
            random.NextBytes(bytes);
            yield return ("random bytes", card, bytes, valid);
            yield return ("random bytes to a robot card", robotPath, bytes, []);
        }

        for (var i = 0; i < 30; i++)
        {
            var text = Encoding.UTF8.GetString(goodBody);
            var cut = text[..random.Next(0, text.Length)];
            yield return ("truncated body", card, Utf8(cut), valid);
            var mutated = text.ToCharArray();
            mutated[random.Next(mutated.Length)] = (char)random.Next(0, 128);
            yield return ("mutated body", card, Utf8(new string(mutated)), valid);
        }

        foreach (var depth in new[] { 63, 64, 65, 1000, 100_000 })
        {
            yield return ($"array nesting {depth}", card, Utf8(new string('[', depth) + new string(']', depth)), valid);
            yield return ($"object nesting {depth}", card, Utf8(string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth)), valid);
            var deepContent = JsonSerializer.Serialize(new { outTrackId, userId = "u1", content = new string('[', depth) + new string(']', depth) });
            yield return ($"content nesting {depth}", card, Utf8(deepContent), valid);
        }

        string[] wrongTypes =
        [
            """{"outTrackId":1,"userId":"u"}""", """{"outTrackId":{},"userId":"u"}""", """{"outTrackId":null,"userId":null}""",
            """{"outTrackId":"c","userId":true}""", """{"outTrackId":"c","userId":"u","content":7}""", """{"outTrackId":"c","userId":"u","content":[]}""",
            """{"outTrackId":"c","userId":"u","content":"\"just a string\""}""", """{"outTrackId":"c","userId":"u","content":"null"}""",
            """{"outTrackId":"c","userId":"u","value":{"cardPrivateData":{"actionIds":"x","params":[]}}}""",
            """{"outTrackId":"c","userId":"u","content":{"cardPrivateData":{"params":{"action":{"nested":[1,2,{"x":null}]}}}}}""",
            """{"outTrackId":"c","userId":"u","content":{"cardPrivateData":{"params":{"action":"vote","option":{"x":1}}}}}""",
            """{"outTrackId":"c","userId":"u","content":{"cardPrivateData":{"params":{"action":"vote","option":12345}}}}""",
            """{"outTrackId":"c","userId":"u","type":["actionCallback"]}""", """{"outTrackId":"c","userId":"u","type":"evil"}""",
            """{"outTrackId":"c","userId":"u","spaceId":1.5e400}""", """{"outTrackId":"c","outTrackId":"d","userId":"u"}""",
            "{\"outTrackId\":\"\\ud800\",\"userId\":\"u\"}", "\uFEFF{\"outTrackId\":\"c\",\"userId\":\"u\"}", "null", "true", "12", "\"x\"", "{}", "[]", "",
        ];
        foreach (var body in wrongTypes)
        {
            yield return ($"wrong types {body}", card, Utf8(body), valid);
            yield return ($"wrong types to a robot card {body}", robotPath, Utf8(body.Replace("outTrackId", "cardBizId", StringComparison.Ordinal)), []);
        }

        var huge = Utf8("{\"outTrackId\":\"c\",\"userId\":\"u\",\"pad\":\"" + new string('x', 2 * 1024 * 1024) + "\"}");
        yield return ("huge body", card, huge, valid);
        yield return ("huge body to a robot card", robotPath, huge, []);
        yield return ("huge unsigned body", card, huge, []);
        yield return ("huge content", card, Utf8(JsonSerializer.Serialize(new { outTrackId, userId = "u", content = new string('x', 1100 * 1024) })), valid);

        var timestamp = DingTalkCallback.Millis(now);
        (string, string)[][] badSignatures =
        [
            [], [(CardCallbackSignature.TimestampHeader, timestamp)], [(CardCallbackSignature.SignatureHeader, valid[1].Item2)],
            Signed(now.AddMinutes(-6)), Signed(now.AddMinutes(6)), Signed(now.AddYears(-30)), Signed(now, "wrong-secret"),
            [(CardCallbackSignature.TimestampHeader, timestamp), (CardCallbackSignature.SignatureHeader, RobotCallbackSignature.Sign(timestamp, GatewayFactory.ApiSecret))],
            [("timestamp", timestamp), ("sign", RobotCallbackSignature.Sign(timestamp, GatewayFactory.ApiSecret))],
            [(CardCallbackSignature.TimestampHeader, "abc"), (CardCallbackSignature.SignatureHeader, "abc")],
            [(CardCallbackSignature.TimestampHeader, "-1"), (CardCallbackSignature.SignatureHeader, "=")],
            [(CardCallbackSignature.TimestampHeader, "99999999999999999999999"), (CardCallbackSignature.SignatureHeader, valid[1].Item2)],
            [(CardCallbackSignature.TimestampHeader, timestamp), (CardCallbackSignature.SignatureHeader, new string('A', 5000))],
            [(CardCallbackSignature.TimestampHeader, new string('1', 5000)), (CardCallbackSignature.SignatureHeader, valid[1].Item2)],
        ];
        foreach (var headers in badSignatures)
        {
            for (var i = 0; i < 5; i++)
            {
                yield return ($"bad signature {string.Join(',', headers.Select(h => h.Item1))}", card, goodBody, headers);
            }
        }

        var robotBody = Utf8(DingTalkCallback.RobotBody(cardBizId, "u1", new { action = "vote", option = "A" }));
        string[] badTokens = ["x", "", "%41%42", new string('A', 4000), "..%2F..%2Fetc", RobotCardCallbackToken.Mint("other", GatewayFactory.ApiSecret)];
        foreach (var token in badTokens)
        {
            yield return ($"bad robot token {token}", RobotCardCallbackToken.RoutePrefix + token, robotBody, []);
        }

        yield return ("robot card with stale robot headers", robotPath, robotBody, [("timestamp", "1"), ("sign", "x")]);
        yield return ("robot card with only sign", robotPath, robotBody, [("sign", "x")]);
    }
}
