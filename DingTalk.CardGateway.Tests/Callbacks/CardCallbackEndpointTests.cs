using System.Text.Json;
using System.Net;
using System.Text;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Storage;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.CardGateway.Tests.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Events;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>DingTalk posting advanced-card callbacks to <c>/dingtalk/callbacks/card</c>: what it must prove, and what it gets back.</summary>
[Collection(CallbackGatewayCollection.Name)]
public class CardCallbackEndpointTests(CallbackGateway gateway)
{
    private static readonly string VoteBody = DingTalkCallback.Body("card-x", "u1", new { action = "vote", option = "A" });

    [Theory]
    [InlineData("""{"action":"vote","option":"a\ud800b"}""", "params holds a string escape that is not valid Unicode (an unpaired surrogate).")]
    [InlineData("""{"action":"vote","a\udc00":"A"}""", "params holds a string escape that is not valid Unicode (an unpaired surrogate).")]
    [InlineData("""{"action":"vo\u0000te"}""", "params.action must not contain the character U+0000.")]
    public async Task Params_no_database_or_DingTalk_can_store_are_refused_with_400(string parameters, string detail)
    {
        // JSON allows both escapes; PostgreSQL stores no NUL, and no UTF-8 carries half a surrogate pair.
        var content = """{"cardPrivateData":{"actionIds":["submit"],"params":""" + parameters + "}}";
        var body = JsonSerializer.Serialize(new { type = "actionCallback", outTrackId = "form-1", userId = "u1", content });

        using var response = await gateway.DingTalkClient.SendAsync(DingTalkCallback.Signed(body, GatewayFactory.ApiSecret));

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(detail, problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("userId", "\"u1\"")]
    [InlineData("outTrackId", "\"nul-card\"")]
    public async Task Ids_with_a_NUL_character_are_refused_with_400(string field, string value)
    {
        var body = DingTalkCallback.Body("nul-card", "u1", new { action = "vote", option = "A" }).Replace(value, value.Insert(2, "\\u0000"), StringComparison.Ordinal);

        using var response = await gateway.DingTalkClient.SendAsync(DingTalkCallback.Signed(body, GatewayFactory.ApiSecret));

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal($"{field} must not contain the character U+0000.", problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("clicker")]
    [InlineData("everyone")]
    public async Task A_handler_result_no_JSON_writer_takes_is_the_handlers_failure_answered_with_an_empty_object(string to)
    {
        var outTrackId = await gateway.SendCardAsync("tpl.unwritable");

        var answer = await gateway.ClickAsync(outTrackId, "u1", new { action = "unwritable", to });

        Assert.Equal("{}", answer.GetRawText());
        await Eventually.TrueAsync(
            () => gateway.Logs.LogEvents.Any(e => EventId(e) == 3102 && e.RenderMessage().Contains(outTrackId, StringComparison.Ordinal)),
            "the handler's failure logged");
        using var state = JsonDocument.Parse(await gateway.Api.GetStringAsync($"/api/cards/{outTrackId}"));
        Assert.Equal("HandlerFailed", state.RootElement.GetProperty("callbacks")[0].GetProperty("outcome").GetString());
        Assert.Empty(state.RootElement.GetProperty("undelivered").EnumerateArray());
        Assert.False(state.RootElement.GetProperty("card").GetProperty("publicData").TryGetProperty("note", out _));
    }

    [Fact]
    public async Task An_unsigned_callback_is_refused_with_401_naming_the_headers()
    {
        var problem = await RefusedAsync(DingTalkCallback.Unsigned(VoteBody));

        Assert.Contains("x-ddpaas-signature-timestamp and x-ddpaas-signature headers are required", Detail(problem), StringComparison.Ordinal);
    }

    /// <summary>Without a timestamp there is no skew to tell: the text log says which, and JSON has no number rather than a null in words.</summary>
    [Theory]
    [InlineData("", "no timestamp")]
    [InlineData("yesterday", "timestamp unreadable")]
    public async Task A_refusal_without_a_readable_timestamp_is_logged_without_a_skew(string timestamp, string said)
    {
        var headers = timestamp.Length == 0 ? [] : new[] { (CardCallbackSignature.TimestampHeader, timestamp), (CardCallbackSignature.SignatureHeader, "c2lnbmF0dXJl") };
        await RefusedAsync(DingTalkCallback.Unsigned(VoteBody, headers));

        var logged = gateway.Logs.LogEvents.Last(e => EventId(e) == 3001);
        var text = TextLog.Render([logged]);
        Assert.Contains($"({said}, window 300 s)", text, StringComparison.Ordinal);
        Assert.DoesNotContain("skew null", text, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(Json(logged));
        Assert.Contains($"({said}, window 300 s)", json.RootElement.GetProperty("@m").GetString(), StringComparison.Ordinal);
        Assert.False(json.RootElement.TryGetProperty("SkewSeconds", out var skew) && skew.ValueKind != JsonValueKind.Null, $"SkewSeconds {skew}");
    }

    [Fact]
    public async Task A_stale_signature_is_refused_and_logged_with_the_clock_skew_but_no_secret()
    {
        var problem = await RefusedAsync(DingTalkCallback.Signed(VoteBody, GatewayFactory.ApiSecret, DateTimeOffset.UtcNow.AddMinutes(-10)));

        var said = System.Text.RegularExpressions.Regex.Match(Detail(problem), @"^The signature timestamp is (\d+) s behind this gateway's clock; at most 300 s either way is accepted");
        Assert.True(said.Success, Detail(problem));
        Assert.InRange(long.Parse(said.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 590, 700);
        var logged = gateway.Logs.LogEvents.Last(e => EventId(e) == 3001 && Property(e, "Check") == "\"Stale\"");
        Assert.InRange(long.Parse(Property(logged, "SkewSeconds"), System.Globalization.CultureInfo.InvariantCulture), 590, 700);
        using var json = JsonDocument.Parse(Json(logged));
        Assert.InRange(json.RootElement.GetProperty("SkewSeconds").GetInt64(), 590, 700);
        Assert.Matches(@"\(skew (59\d|6\d\d) s, window 300 s\)", json.RootElement.GetProperty("@m").GetString());
        Assert.DoesNotContain(GatewayFactory.ApiSecret, gateway.Logs.RenderedLogs(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_signature_from_the_future_beyond_the_window_is_refused()
    {
        var problem = await RefusedAsync(DingTalkCallback.Signed(VoteBody, GatewayFactory.ApiSecret, DateTimeOffset.UtcNow.AddMinutes(10)));

        Assert.Matches(@"^The signature timestamp is (59\d|6\d\d) s ahead of this gateway's clock; at most 300 s either way", Detail(problem));
    }

    [Fact]
    public async Task A_timestamp_in_epoch_seconds_is_refused_with_a_hint_that_DingTalk_signs_milliseconds()
    {
        var seconds = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var signature = Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes(GatewayFactory.ApiSecret), Encoding.UTF8.GetBytes(seconds)));

        var problem = await RefusedAsync(DingTalkCallback.Unsigned(VoteBody, (CardCallbackSignature.TimestampHeader, seconds), (CardCallbackSignature.SignatureHeader, signature)));

        Assert.Equal($"The signature timestamp {seconds} looks like epoch seconds; DingTalk signs with epoch milliseconds (13 digits).", Detail(problem));
        // DingTalk reads no answer: the operator reads the log, which says the same (not only a skew of decades).
        await Eventually.TrueAsync(
            () => gateway.Logs.LogEvents.Any(e => EventId(e) == 3001 && e.RenderMessage().Contains($"{seconds} looks like epoch seconds", StringComparison.Ordinal)),
            "the refusal logged with its reason");
    }

    [Theory]
    [InlineData(1_000)] // microseconds: 16 digits, past what a millisecond timestamp can hold
    [InlineData(100)] // tenths of a microsecond would be 17; 15 digits read as milliseconds fall thousands of years ahead
    public async Task A_timestamp_finer_than_milliseconds_is_refused_with_a_hint_that_DingTalk_signs_milliseconds(int perMillisecond)
    {
        var fine = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * perMillisecond).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var signature = Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes(GatewayFactory.ApiSecret), Encoding.UTF8.GetBytes(fine)));

        var problem = await RefusedAsync(DingTalkCallback.Unsigned(VoteBody, (CardCallbackSignature.TimestampHeader, fine), (CardCallbackSignature.SignatureHeader, signature)));

        Assert.Equal($"The signature timestamp {fine} has {fine.Length} digits: it looks finer than epoch milliseconds (microseconds have 16); DingTalk signs with epoch milliseconds (13 digits).", Detail(problem));
    }

    [Fact]
    public async Task A_robot_style_signature_is_refused_as_a_different_scheme()
    {
        var timestamp = DingTalkCallback.Millis(DateTimeOffset.UtcNow);
        var robotSign = RobotCallbackSignature.Sign(timestamp, GatewayFactory.ApiSecret);

        var problem = await RefusedAsync(DingTalkCallback.Unsigned(VoteBody, (CardCallbackSignature.TimestampHeader, timestamp), (CardCallbackSignature.SignatureHeader, robotSign)));

        Assert.Contains("robot-message scheme", Detail(problem), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Robot_headers_instead_of_card_headers_are_refused_with_a_pointer_to_the_right_ones()
    {
        var timestamp = DingTalkCallback.Millis(DateTimeOffset.UtcNow);
        var problem = await RefusedAsync(DingTalkCallback.Unsigned(VoteBody, ("timestamp", timestamp), ("sign", RobotCallbackSignature.Sign(timestamp, GatewayFactory.ApiSecret))));

        Assert.Contains("not the robot headers timestamp/sign", Detail(problem), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_signature_made_with_another_secret_is_refused_as_a_mismatch()
    {
        var problem = await RefusedAsync(DingTalkCallback.Signed(VoteBody, "some-other-secret"));

        Assert.Equal("The signature does not match: it must be Base64(HMAC-SHA256(apiSecret, timestamp)).", Detail(problem));
    }

    /// <summary>
    /// Every click refused as a mismatch: the operator reads the log, which says which setting DingTalk's signature is
    /// checked against (two secrets one letter apart: AppSecret, ApiSecret) and the route key, never the secret.
    /// </summary>
    [Fact]
    public async Task A_mismatch_is_logged_naming_the_secret_to_check_and_the_route_key()
    {
        var before = gateway.Logs.LogEvents.Count;

        await RefusedAsync(DingTalkCallback.Signed(VoteBody, "some-other-secret-1"));

        var logged = await Eventually.ValueAsync(() => gateway.Logs.LogEvents.Skip(before).FirstOrDefault(e => EventId(e) == 3001), "the mismatch logged");
        Assert.Contains("not signed with DingTalk:Callback:ApiSecret", logged.RenderMessage(), StringComparison.Ordinal);
        Assert.Contains("route key 'test-route'", logged.RenderMessage(), StringComparison.Ordinal);
        Assert.DoesNotContain(GatewayFactory.ApiSecret, gateway.Logs.RenderedLogs(), StringComparison.Ordinal);
    }

    /// <summary>The easy mix-up: the route key registered (outside the gateway) with the app's secret as its apiSecret.</summary>
    [Fact]
    public async Task A_callback_signed_with_the_app_secret_is_logged_as_such()
    {
        var before = gateway.Logs.LogEvents.Count;

        var problem = await RefusedAsync(DingTalkCallback.Signed(VoteBody, gateway.DingTalk.Options.AppSecret));

        Assert.Equal("The signature does not match: it must be Base64(HMAC-SHA256(apiSecret, timestamp)).", Detail(problem)); // DingTalk's answer says no more
        var logged = await Eventually.ValueAsync(() => gateway.Logs.LogEvents.Skip(before).FirstOrDefault(e => EventId(e) == 3001), "the mismatch logged");
        Assert.Contains("signed with DingTalk:AppSecret, not DingTalk:Callback:ApiSecret", logged.RenderMessage(), StringComparison.Ordinal);
        Assert.DoesNotContain(gateway.DingTalk.Options.AppSecret, gateway.Logs.RenderedLogs(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_json_gets_400_problem_details()
    {
        using var request = DingTalkCallback.Signed("{\"outTrackId\": ", GatewayFactory.ApiSecret);
        var problem = await HttpAssert.ProblemAsync(await gateway.DingTalkClient.SendAsync(request), HttpStatusCode.BadRequest);

        Assert.StartsWith("The body is not valid JSON", Detail(problem), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_over_one_megabyte_gets_413_and_a_warning_naming_the_limit()
    {
        var huge = "{\"outTrackId\":\"c\",\"userId\":\"u\",\"pad\":\"" + new string('x', 1024 * 1024) + "\"}";
        using var request = DingTalkCallback.Signed(huge, GatewayFactory.ApiSecret);
        var warnedBefore = TooLargeWarnings(gateway.Logs.LogEvents);

        await HttpAssert.ProblemAsync(await gateway.DingTalkClient.SendAsync(request), HttpStatusCode.RequestEntityTooLarge);

        // The refusals metric counts it as TooLarge; an operator looking for why must find it in the log too.
        await Eventually.TrueAsync(() => TooLargeWarnings(gateway.Logs.LogEvents) > warnedBefore, "the 413 logged as event 3003");
    }

    internal static int TooLargeWarnings(IEnumerable<LogEvent> events, int eventId = 3003) => events.Count(e =>
        EventId(e) == eventId && e.Level == LogEventLevel.Warning && Property(e, "Status") == "413"
        && e.RenderMessage().Contains("Gateway:Callbacks:MaxBodyBytes", StringComparison.Ordinal));

    [Fact]
    public async Task An_action_no_handler_claims_is_acknowledged_and_logged_with_the_line_that_would_claim_it()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.unknown");

        var answer = await gateway.ClickAsync(outTrackId, "u1", new { action = "dance" });

        Assert.Equal("{}", answer.GetRawText());
        var rendered = gateway.Logs.LogEvents.Single(e => EventId(e) == 3101 && e.RenderMessage().Contains(outTrackId, StringComparison.Ordinal));
        Assert.Equal(LogEventLevel.Warning, rendered.Level);
        Assert.Contains("""builder.Services.AddCardActionHandler<MyHandler>(on => on.Template("tpl.unknown").Action("dance"));""", rendered.RenderMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dynamic_data_pull_without_a_handler_is_acknowledged()
    {
        using var request = DingTalkCallback.Signed("""{"type":"dynamicDataCallback","outTrackId":"card-dyn"}""", GatewayFactory.ApiSecret);
        var answer = await HttpAssert.JsonAsync(await gateway.DingTalkClient.SendAsync(request), HttpStatusCode.OK);

        Assert.Equal("{}", answer.GetRawText());
    }

    [Fact]
    public async Task A_redelivered_callback_gets_the_same_answer_but_is_handled_once()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.poll");
        var body = DingTalkCallback.Body(outTrackId, "u1", new { action = "vote", option = "A" });
        var signedAt = DateTimeOffset.UtcNow;

        using var first = DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt);
        using var again = DingTalkCallback.Signed(body, GatewayFactory.ApiSecret, signedAt);
        var firstAnswer = await HttpAssert.JsonAsync(await gateway.DingTalkClient.SendAsync(first), HttpStatusCode.OK);
        var secondAnswer = await HttpAssert.JsonAsync(await gateway.DingTalkClient.SendAsync(again), HttpStatusCode.OK);

        Assert.Equal(firstAnswer.GetRawText(), secondAnswer.GetRawText());
        Assert.Contains("myVote", firstAnswer.GetRawText(), StringComparison.Ordinal);
        var history = await gateway.App.Services.GetRequiredService<ICallbackStore>().ForCardAsync(outTrackId, CancellationToken.None);
        Assert.Equal(CallbackOutcome.Handled, Assert.Single(history).Outcome);
        Assert.Contains(gateway.Logs.LogEvents, e => EventId(e) == 3104 && e.RenderMessage().Contains(outTrackId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_handler_that_throws_answers_empty_and_is_logged_with_the_callback_id()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.buggy");

        var answer = await gateway.ClickAsync(outTrackId, "u1", new { action = "explode" });

        Assert.Equal("{}", answer.GetRawText());
        var history = await gateway.App.Services.GetRequiredService<ICallbackStore>().ForCardAsync(outTrackId, CancellationToken.None);
        var callback = Assert.Single(history);
        Assert.Equal(CallbackOutcome.HandlerFailed, callback.Outcome);
        var logged = gateway.Logs.LogEvents.Single(e => EventId(e) == 3102 && Property(e, "CallbackId") == $"\"{callback.CallbackId}\"");
        Assert.Equal(LogEventLevel.Error, logged.Level);
        Assert.IsType<InvalidOperationException>(logged.Exception);
    }

    [Fact]
    public async Task A_handler_past_its_budget_is_answered_without_its_clicker_update_and_still_updates_everyone()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.slow");

        var answer = await gateway.ClickAsync(outTrackId, "u1", new { action = "slow" });
        gateway.Gate.Open();

        Assert.Equal("{}", answer.GetRawText());
        await Eventually.TrueAsync(() => gateway.DingTalk.State.FindCard(outTrackId)?.CardData.GetValueOrDefault("slow") == "done", "the late handler's update for everyone");
        Assert.Contains(gateway.Logs.LogEvents, e => EventId(e) == 3103 && e.RenderMessage().Contains(outTrackId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_callback_routes_stay_out_of_the_openapi_document()
    {
        var document = await gateway.Api.GetStringAsync("/openapi/v1.json");

        Assert.DoesNotContain("/dingtalk/callbacks", document, StringComparison.Ordinal);
        Assert.Contains("/api/cards", document, StringComparison.Ordinal);
    }

    private async Task<System.Text.Json.JsonElement> RefusedAsync(HttpRequestMessage request)
    {
        using (request)
        {
            return await HttpAssert.ProblemAsync(await gateway.DingTalkClient.SendAsync(request), HttpStatusCode.Unauthorized);
        }
    }

    /// <summary>The event as the JSON console writes it.</summary>
    private static string Json(LogEvent e) => JsonLog.Render(e);

    private static string Detail(System.Text.Json.JsonElement problem) => problem.GetProperty("detail").GetString()!;

    internal static int? EventId(LogEvent e) =>
        e.Properties.TryGetValue("EventId", out var id) && id is StructureValue s && s.Properties.FirstOrDefault(p => p.Name == "Id")?.Value is ScalarValue { Value: int value } ? value : null;

    internal static string Property(LogEvent e, string name) => e.Properties.TryGetValue(name, out var value) ? value.ToString() : "";
}
