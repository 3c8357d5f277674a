using System.Text.Json;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.CardGateway.Tests.SandboxTests;
using DingTalk.Sandbox.Stream;
using Xunit.Abstractions;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>
/// DingTalk's official Node Stream client (<c>dingtalk-stream</c>, pinned in <c>conformance/package.json</c>) against
/// the fake's Stream side: if the fake refused what the real client sends, or the client could not read what the fake
/// pushes, this fails. Needs <c>node</c> (and <c>npm</c> the first time) on PATH.
/// </summary>
public sealed class OfficialStreamClientTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private FakeDingTalk _dingTalk = null!;

    private SandboxStream Stream => _dingTalk.State.Stream;

    public async Task InitializeAsync() => _dingTalk = await FakeDingTalk.StartAsync();

    public async Task DisposeAsync() => await _dingTalk.DisposeAsync();

    [Fact]
    public async Task Official_Node_Stream_client_connects_answers_a_ping_an_event_and_a_card_callback()
    {
        using (var sandbox = new SandboxClient(_dingTalk))
        {
            await sandbox.LoginAsync();
            var created = await sandbox.PostAsync("/v1.0/card/instances/createAndDeliver", ValidRequests.CreateAndDeliver("node-card"));
            Assert.Equal(System.Net.HttpStatusCode.OK, created.Status);
        }

        await using var node = await NodeScript.StartAsync(
            "dingtalk-stream", "official-stream-client.mjs", _dingTalk.BaseAddress.ToString(), _dingTalk.Options.AppKey, _dingTalk.Options.AppSecret);
        SandboxStreamConnection connection;
        using (var patience = new CancellationTokenSource(Patience))
        {
            try
            {
                connection = await Stream.WaitForConnectionAsync(c => c.IsOpen, patience.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"the official client never connected\n{node.StdOut}\n{node.StdErr}");
                throw;
            }
        }

        Assert.Equal("dingtalk-stream-node-conformance", connection.Ua);
        Assert.Contains(new StreamSubscription("CALLBACK", StreamProtocol.CardCallbackTopic), connection.Subscriptions);
        Assert.Contains(new StreamSubscription("EVENT", "*"), connection.Subscriptions);

        var ping = await connection.PingAsync();
        Assert.Equal(ping.Data, (await ping.Answered.WaitAsync(Patience)).Data);

        var @event = await Stream.PushAsync(StreamProtocol.Event, "*", """{"timestamp":"1685501863357","userId":["015xxxx227"]}""");
        using (var acknowledged = JsonDocument.Parse((await @event.Answered.WaitAsync(Patience)).Data))
        {
            Assert.Equal("SUCCESS", acknowledged.RootElement.GetProperty("status").GetString());
        }

        var click = await Stream.PushCardCallbackAsync("node-card", "user-1", new { action = "vote", option = "pizza" });
        var answer = await click.Answered.WaitAsync(Patience);
        await node.WaitForExitAsync(Patience);

        output.WriteLine(node.StdOut);
        output.WriteLine(answer.RawText);
        Assert.True(node.ExitCode == 0, $"official-stream-client.mjs exited {node.ExitCode}\n{node.StdOut}\n{node.StdErr}");
        using (var data = JsonDocument.Parse(answer.Data))
        {
            var response = data.RootElement.GetProperty("response"); // socketCallBackResponse wraps the update
            Assert.Equal("pizza", response.GetProperty("userPrivateData").GetProperty("cardParamMap").GetProperty("choice").GetString());
            Assert.Equal("seen", response.GetProperty("cardData").GetProperty("cardParamMap").GetProperty("status").GetString());
        }

        using var summary = JsonDocument.Parse(node.StdOut.Trim().Split('\n')[^1]);
        var seen = summary.RootElement.GetProperty("cardCallbacks")[0];
        Assert.Equal("node-card", seen.GetProperty("outTrackId").GetString());
        Assert.Equal("pizza", seen.GetProperty("params").GetProperty("option").GetString());
        Assert.Equal(1, summary.RootElement.GetProperty("redirected").GetInt32());
        Assert.Empty(Stream.ProtocolErrors);
        Assert.Empty(Stream.TicketRejections);
    }
}
