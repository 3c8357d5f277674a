using System.Net;
using DingTalk.CardGateway.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Callbacks;

/// <summary>
/// A click that went wrong, told to the operator well enough to act on: the missing permission a typewriter needs, the
/// robot card whose clicks are refused.
/// </summary>
[Collection(CallbackGatewayCollection.Name)]
public class RefusalDiagnosisTests(CallbackGateway gateway)
{
    private static readonly object StandardCard = new { config = new { autoLayout = true }, header = new { title = new { type = "text", text = "Approve?" } }, contents = Array.Empty<object>() };

    /// <summary>
    /// An AI card's typewriter without <c>Card.Streaming.Write</c>: error 3105 is the only line about it (the frame goes
    /// straight to DingTalk, not through the outbox), so it must name the scope DingTalk asks for, the call and its request id.
    /// </summary>
    [Fact]
    public async Task Typing_refused_for_a_missing_permission_is_logged_naming_the_scope_the_call_and_the_request_id()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.assistant", new { content = "" });
        gateway.DingTalk.State.DenyPermissionNext(HttpMethod.Put, "/v1.0/card/streaming", ["Card.Streaming.Write"], bodyContains: outTrackId);

        await gateway.ClickAsync(outTrackId, "u1", new { action = "ask", question = "hello" });

        var logged = await Eventually.ValueAsync(
            () => gateway.Logs.LogEvents.FirstOrDefault(e => CardCallbackEndpointTests.EventId(e) == 3105 && e.RenderMessage().Contains(outTrackId, StringComparison.Ordinal)),
            "the failed typing logged");
        var said = logged.Exception!.Message;
        Assert.Contains("Forbidden.AccessDenied.AccessTokenPermissionDenied", said, StringComparison.Ordinal);
        Assert.Contains("requires Card.Streaming.Write", said, StringComparison.Ordinal);
        Assert.Contains("PUT /v1.0/card/streaming", said, StringComparison.Ordinal);
        Assert.Matches("requestid [0-9A-F-]{36}", said);
    }

    /// <summary>
    /// Every click on a robot card refused (its URL token minted under a secret no longer listed, say): the line says
    /// which card, so the operator can tell one old card from every card, and what to do, never the secret.
    /// </summary>
    [Fact]
    public async Task A_robot_card_click_refused_for_its_token_is_logged_naming_the_card_and_what_to_check()
    {
        var (cardBizId, _) = await gateway.SendRobotCardAsync(StandardCard);
        var minted = RobotCardCallbackToken.Mint(cardBizId, "a-secret-since-dropped-0123");

        using var request = DingTalkCallback.Post(RobotCardCallbackToken.RoutePrefix + minted, System.Text.Encoding.UTF8.GetBytes(DingTalkCallback.RobotBody(cardBizId, "u1", new { action = "approve" })));
        var text = await RefusedAsync(request, 3011);
        Assert.Contains(cardBizId, text, StringComparison.Ordinal);
        Assert.Contains("DingTalk:Callback:PreviousApiSecrets", text, StringComparison.Ordinal);
        Assert.DoesNotContain("a-secret-since-dropped-0123", gateway.Logs.RenderedLogs(), StringComparison.Ordinal);
        Assert.DoesNotContain(GatewayFactory.ApiSecret, gateway.Logs.RenderedLogs(), StringComparison.Ordinal);
    }

    /// <summary>
    /// Robot headers whose <c>sign</c> does not verify: the line says it is checked against <c>DingTalk:AppSecret</c>, and
    /// when it was made with <c>DingTalk:Callback:ApiSecret</c> instead, says so — never either secret.
    /// </summary>
    [Fact]
    public async Task Robot_headers_signed_with_the_api_secret_are_logged_as_such()
    {
        var (cardBizId, path) = await gateway.SendRobotCardAsync(StandardCard);
        var timestamp = DingTalkCallback.Millis(DateTimeOffset.UtcNow);

        using var request = DingTalkCallback.Post(path, System.Text.Encoding.UTF8.GetBytes(DingTalkCallback.RobotBody(cardBizId, "u1", new { action = "approve" })));
        request.Headers.Add("timestamp", timestamp);
        request.Headers.Add("sign", RobotCallbackSignature.Sign(timestamp, GatewayFactory.ApiSecret));
        var text = await RefusedAsync(request, 3011);
        Assert.Contains(cardBizId, text, StringComparison.Ordinal);
        Assert.Contains("signed with DingTalk:Callback:ApiSecret, not DingTalk:AppSecret", text, StringComparison.Ordinal);
        Assert.DoesNotContain(GatewayFactory.ApiSecret, gateway.Logs.RenderedLogs(), StringComparison.Ordinal);
        Assert.DoesNotContain(gateway.DingTalk.Options.AppSecret, gateway.Logs.RenderedLogs(), StringComparison.Ordinal);
    }

    /// <summary>
    /// DingTalk's own robot scheme (keyed with the AppSecret, over <c>timestamp + "\n" + AppSecret</c>) in the card headers:
    /// a robot-message signer reused for card callbacks. The 401 says it is the robot scheme, as it does for one keyed with
    /// the ApiSecret, rather than a plain mismatch.
    /// </summary>
    [Fact]
    public async Task A_robot_scheme_signature_made_with_the_app_secret_is_refused_as_the_robot_scheme()
    {
        var timestamp = DingTalkCallback.Millis(DateTimeOffset.UtcNow);
        var robotSign = RobotCallbackSignature.Sign(timestamp, gateway.DingTalk.Options.AppSecret);

        using var request = DingTalkCallback.Unsigned(
            DingTalkCallback.Body("robot-scheme-card", "u1", new { action = "vote", option = "A" }),
            (CardCallbackSignature.TimestampHeader, timestamp),
            (CardCallbackSignature.SignatureHeader, robotSign));
        var problem = await HttpAssert.ProblemAsync(await gateway.DingTalkClient.SendAsync(request), HttpStatusCode.Unauthorized);

        Assert.Contains("robot-message scheme", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// Signed with the AppSecret and outside the window too (a clock off as well): the log still says which secret it was
    /// signed with, the first thing to fix, rather than only that it is not the ApiSecret.
    /// </summary>
    [Fact]
    public async Task A_stale_callback_signed_with_the_app_secret_is_logged_as_signed_with_the_app_secret()
    {
        using var request = DingTalkCallback.Signed(
            DingTalkCallback.Body("app-secret-stale-card", "u1", new { action = "vote", option = "A" }), gateway.DingTalk.Options.AppSecret, DateTimeOffset.UtcNow.AddMinutes(-10));

        Assert.Contains("signed with DingTalk:AppSecret, not DingTalk:Callback:ApiSecret", await RefusedAsync(request, 3001), StringComparison.Ordinal);
    }

    /// <summary>
    /// A click no handler claims is logged with everything a registration could match on: its <c>params.action</c> and its
    /// <c>actionIds</c>, not only the one the suggested line uses, so a handler bound by action id can be written too.
    /// </summary>
    [Fact]
    public async Task An_unclaimed_click_is_logged_with_its_params_action_and_its_action_ids()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.unclaimed-diagnosis");
        var before = gateway.Logs.LogEvents.Count;

        using var request = DingTalkCallback.Signed(DingTalkCallback.Body(outTrackId, "u1", new { action = "archive" }, actionId: "btn_archive"), GatewayFactory.ApiSecret);
        (await gateway.DingTalkClient.SendAsync(request)).EnsureSuccessStatusCode();

        var logged = await Eventually.ValueAsync(
            () => gateway.Logs.LogEvents.Skip(before).FirstOrDefault(e => CardCallbackEndpointTests.EventId(e) == 3101),
            "the unclaimed click logged");
        var text = logged.RenderMessage();
        Assert.Contains("tpl.unclaimed-diagnosis", text, StringComparison.Ordinal);
        Assert.Contains("params.action \"archive\"", text, StringComparison.Ordinal);
        Assert.Contains("actionIds \"btn_archive\"", text, StringComparison.Ordinal);
    }

    /// <summary>Sends the callback, refused with 401, and gives its refusal's log line (event <paramref name="eventId"/>) as written.</summary>
    private async Task<string> RefusedAsync(HttpRequestMessage request, int eventId)
    {
        var before = gateway.Logs.LogEvents.Count;
        await HttpAssert.ProblemAsync(await gateway.DingTalkClient.SendAsync(request), HttpStatusCode.Unauthorized);
        var logged = await Eventually.ValueAsync(
            () => gateway.Logs.LogEvents.Skip(before).FirstOrDefault(e => CardCallbackEndpointTests.EventId(e) == eventId),
            "the refusal logged");
        return logged.RenderMessage();
    }
}
