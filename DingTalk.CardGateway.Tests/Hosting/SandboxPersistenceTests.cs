using System.Net;
using System.Text.Json.Nodes;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Fixtures;
using DingTalk.CardGateway.Tests.SandboxTests;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// The emulator's file (<see cref="SandboxPersistence"/>) is written when what it keeps changed, not at every call: a
/// token fetched, a callback registered or a call refused leave the cards as they were, and the file with them.
/// </summary>
public sealed class SandboxPersistenceTests : SandboxTestBase
{
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"cg-sandbox-saves-{Guid.NewGuid():N}.db");
    private GatewayDatabase _gatewayDatabase = null!;
    private SandboxPersistence _persistence = null!;

    private string File => _persistence.File!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var options = Options.Create(new GatewayOptions { Storage = { ConnectionString = $"Data Source={_database}" } });
        _gatewayDatabase = new GatewayDatabase(options, new HostingEnvironment { ContentRootPath = Path.GetTempPath() });
        // Saved by hand (Save), not every second: no timer runs.
        _persistence = new SandboxPersistence(DingTalk.State, _gatewayDatabase, TimeProvider.System, NullLogger<SandboxPersistence>.Instance);
        Assert.Equal(HttpStatusCode.OK, (await Client.PostAsync("/v1.0/card/instances/createAndDeliver", ValidRequests.CreateAndDeliver("kept-card"))).Status);
        Assert.Equal(HttpStatusCode.OK, (await Client.PostAsync("/v1.0/im/v1.0/robot/interactiveCards/send", ValidRequests.RobotSend("kept-robot-card"))).Status);
        Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("kept-card", "frame-1", "Hel"))).Status);
        _persistence.Save();
        Assert.True(System.IO.File.Exists(File), "the first save");
        System.IO.File.Delete(File);
    }

    public override async Task DisposeAsync()
    {
        _gatewayDatabase.Dispose();
        SqliteFiles.Delete(_database);
        await base.DisposeAsync();
    }

    [Fact]
    public async Task Calls_that_change_no_card_leave_the_file_unwritten()
    {
        await Client.LoginAsync(); // a token: not kept
        await Client.SendAsync(HttpMethod.Get, $"/gettoken?appkey={DingTalk.Options.AppKey}&appsecret={DingTalk.Options.AppSecret}", null);
        await Client.PostAsync("/v1.0/card/callbacks/register", ValidRequests.RegisterCallback("route-1", "https://gateway.example.test/cb")); // not kept either
        await Client.SendAsync(HttpMethod.Get, "/cards", null);
        await Client.SendAsync(HttpMethod.Get, "/requests", null);
        Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("kept-card", "frame-1", "Hel"))).Status); // a frame sent again
        Assert.NotEqual(HttpStatusCode.OK, (await Client.PutAsync("/v1.0/card/instances", ValidRequests.UpdateCard("no-such-card", new JsonObject { ["a"] = "b" }))).Status);
        Assert.NotEqual(HttpStatusCode.OK, (await Client.PostAsync("/v1.0/card/instances/createAndDeliver", ValidRequests.CreateAndDeliver("kept-card"))).Status); // taken
        Assert.NotEqual(HttpStatusCode.OK, (await Client.SendAsync(HttpMethod.Get, "/v1.0/no/such/api", null)).Status);

        _persistence.Save();

        Assert.False(System.IO.File.Exists(File), "written after calls that changed no card");
    }

    [Fact]
    public async Task Each_change_of_a_card_is_written()
    {
        var changes = new (string What, Func<Task<SandboxReply>> Call)[]
        {
            ("an advanced card created", () => Client.PostAsync("/v1.0/card/instances/createAndDeliver", ValidRequests.CreateAndDeliver("new-card"))),
            ("an advanced card updated", () => Client.PutAsync("/v1.0/card/instances", ValidRequests.UpdateCard("kept-card", new JsonObject { ["title"] = "Dinner?" }))),
            ("a frame streamed", () => Client.PutAsync("/v1.0/card/streaming", ValidRequests.Streaming("kept-card", "frame-2", "Hello"))),
            ("a robot card sent", () => Client.PostAsync("/v1.0/im/v1.0/robot/interactiveCards/send", ValidRequests.RobotSend("new-robot-card"))),
            ("a robot card updated", () => Client.PutAsync("/v1.0/im/robots/interactiveCards", new JsonObject { ["cardBizId"] = "kept-robot-card", ["cardData"] = """{"contents":[]}""" })),
        };
        foreach (var (what, call) in changes)
        {
            Assert.Equal(HttpStatusCode.OK, (await call()).Status);

            _persistence.Save();

            Assert.True(System.IO.File.Exists(File), $"not written after {what}");
            System.IO.File.Delete(File);
        }
    }
}
