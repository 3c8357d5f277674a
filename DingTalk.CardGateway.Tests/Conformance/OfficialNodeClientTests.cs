using System.Text.Json;
using DingTalk.CardGateway.Tests.Fixtures;
using Xunit.Abstractions;

namespace DingTalk.CardGateway.Tests.Conformance;

/// <summary>
/// DingTalk's official Node SDK (<c>@alicloud/dingtalk</c>, pinned in <c>conformance/package.json</c>) runs the whole
/// card flow against the fake: if the fake refused anything the real client sends, or answered in a shape
/// the real client cannot read, this fails. Needs <c>node</c> (and <c>npm</c> the first time) on PATH.
/// </summary>
public sealed class OfficialNodeClientTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(60);

    private FakeDingTalk _dingTalk = null!;

    public async Task InitializeAsync() => _dingTalk = await FakeDingTalk.StartAsync();

    public async Task DisposeAsync() => await _dingTalk.DisposeAsync();

    [Fact]
    public async Task Official_Node_SDK_runs_the_whole_card_flow_against_the_fake()
    {
        await using var run = await NodeScript.StartAsync(
            "@alicloud/dingtalk", "official-client.mjs", _dingTalk.BaseAddress.ToString(), _dingTalk.Options.AppKey, _dingTalk.Options.AppSecret);
        await run.WaitForExitAsync(ScriptTimeout);

        output.WriteLine(run.StdOut);
        Assert.True(run.ExitCode == 0, $"official-client.mjs exited {run.ExitCode}\n{run.StdOut}\n{run.StdErr}");
        using var summary = JsonDocument.Parse(run.StdOut.Trim().Split('\n')[^1]);
        Assert.True(summary.RootElement.GetProperty("ok").GetBoolean());

        var state = _dingTalk.State;
        foreach (var request in state.Requests)
        {
            output.WriteLine($"{request.Method} {request.Path} -> {request.Status} {request.Body}");
        }

        var card = state.FindCard("conformance-card-1");
        Assert.NotNull(card);
        Assert.Equal("conformance.schema", card.CardTemplateId);
        Assert.Equal("HTTP", card.CallbackType);
        Assert.Equal("conformance-route", card.CallbackRouteKey);
        Assert.Equal(new Dictionary<string, string> { ["title"] = "Lunch?", ["count"] = "1" }, card.CardData);
        Assert.Equal("true", card.PrivateData["user-1"]["voted"]);
        Assert.Equal(["dtv1.card//IM_GROUP.cidConformance=="], card.OpenSpaceIds.ToArray());
        Assert.Equal(1, card.UpdateCount);
        Assert.Equal(["conformance-frame-1", "conformance-frame-2"], card.StreamingFrames.Select(f => f.Guid).ToArray());
        Assert.Equal("Hello!", card.StreamingText("answer"));
        Assert.True(card.IsStreamingFinalized("answer"));

        var callback = state.Callbacks["conformance-route"];
        Assert.Equal("https://gateway.example.test/callbacks/card", callback.CallbackUrl);
        Assert.Equal("conformance-secret", callback.ApiSecret);

        var robotCard = state.FindRobotCard("conformance-biz-1");
        Assert.NotNull(robotCard);
        Assert.Equal("conformance-robot", robotCard.RobotCode);
        Assert.Equal("cidConformance==", robotCard.OpenConversationId);
        Assert.Equal(1, robotCard.UpdateCount);
        using (var robotData = JsonDocument.Parse(robotCard.CardData))
        {
            Assert.True(robotData.RootElement.TryGetProperty("header", out _), "updateCardDataByKey keeps the header");
            Assert.Equal("Pizza wins", robotData.RootElement.GetProperty("contents")[0].GetProperty("text").GetString());
        }

        // Everything but the three deliberate error probes was accepted.
        var refused = state.Requests.Where(r => r.Status != 200).Select(r => r.Path).ToArray();
        Assert.Equal(["/v1.0/card/instances", "/v1.0/card/streaming", "/v1.0/oauth2/accessToken"], refused);
        Assert.Equal(11, state.Requests.Count);
    }
}
