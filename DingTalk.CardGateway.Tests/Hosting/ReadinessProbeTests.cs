using System.Net;
using System.Text.Json;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Npgsql;

namespace DingTalk.CardGateway.Tests.Hosting;

/// <summary>
/// <c>/health/ready</c> answers at once, with the reason, whatever hangs behind it: the kubelet gives a probe 1 s by
/// default, and a probe that times out is recorded with no reason at all. Each test holds its dependency black-holed
/// (<see cref="BlackHole"/>) while it probes, so the probe's answer cannot wait for the hang to end; the client's
/// 20 s timeout only keeps a failing test from hanging.
/// </summary>
public class ReadinessProbeTests : IClassFixture<DingTalkFixture>
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);
    private readonly DingTalkFixture fixture;

    public ReadinessProbeTests(DingTalkFixture fixture)
    {
        this.fixture = fixture;
        fixture.DingTalk.State.ClearFaults();
    }

    [Fact]
    public async Task A_black_holed_DingTalk_leaves_the_probe_answering_503_with_the_reason_while_the_token_call_hangs()
    {
        await using var hole = BlackHole.Start(fixture.DingTalk.BaseAddress, hung: true);
        await using var gateway = OnDingTalkBehind(hole);
        using var client = Probe(gateway);
        var tokenCalls = fixture.DingTalk.State.TokenRequests;

        for (var probe = 0; probe < 3; probe++)
        {
            var token = await ReadinessAsync(client, HttpStatusCode.ServiceUnavailable, "dingtalk-token");
            Assert.Contains("DingTalk has not answered the token call yet", token, StringComparison.Ordinal);
            Assert.Contains("check DingTalk:ApiBaseUrl", token, StringComparison.Ordinal);
        }

        // Answered while the token call is still held in the black hole: one call, however many probes.
        await Eventually.TrueAsync(() => hole.Held == 1, "the token call held in the black hole");
        Assert.Contains("has not answered", await ReadinessAsync(client, HttpStatusCode.ServiceUnavailable, "dingtalk-token"), StringComparison.Ordinal);
        Assert.Equal(1, hole.Held);
        Assert.Equal(1, hole.Accepted);
        Assert.Equal(tokenCalls, fixture.DingTalk.State.TokenRequests);
        var notReady = Assert.Single(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 1107);
        Assert.Contains("dingtalk-token: DingTalk has not answered the token call yet", notReady.RenderMessage(), StringComparison.Ordinal);

        hole.Release();

        await Eventually.TrueAsync(async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, "ready once DingTalk answers");
        Assert.Equal(tokenCalls + 1, fixture.DingTalk.State.TokenRequests);
        var ready = Assert.Single(gateway.LogEvents, e => CardCallbackEndpointTests.EventId(e) == 1108);
        Assert.StartsWith("Ready again", ready.RenderMessage(), StringComparison.Ordinal);
    }

    /// <summary>"Has not answered yet" is said once; the cause found when the call ends is said too (warning 1107 again), though the same check still fails.</summary>
    [Fact]
    public async Task The_cause_found_once_a_hung_token_call_ends_is_logged_and_kept_while_the_next_call_is_under_way()
    {
        await using var hole = BlackHole.Start(fixture.DingTalk.BaseAddress, hung: true);
        await using var gateway = OnDingTalkBehind(hole);
        using var client = Probe(gateway);
        Assert.Contains("has not answered", await ReadinessAsync(client, HttpStatusCode.ServiceUnavailable, "dingtalk-token"), StringComparison.Ordinal);

        fixture.DingTalk.State.FailNext(HttpMethod.Post, "/v1.0/oauth2/accessToken", 400, "invalidClientIdOrSecret", "no such app", times: 3);
        hole.Release();
        await Eventually.TrueAsync(
            async () => (await ReadinessAsync(client, HttpStatusCode.ServiceUnavailable, "dingtalk-token")).Contains("invalidClientIdOrSecret", StringComparison.Ordinal),
            "the refusal, once DingTalk answers");

        // The next token call hangs: the probe keeps saying the last one's refusal meanwhile.
        hole.Hang();
        await Eventually.TrueAsync(async () => { await client.GetAsync("/health/ready"); return hole.Held == 1; }, "a token call held in the black hole");
        Assert.Contains("invalidClientIdOrSecret", await ReadinessAsync(client, HttpStatusCode.ServiceUnavailable, "dingtalk-token"), StringComparison.Ordinal);

        var notReady = gateway.LogEvents.Where(e => CardCallbackEndpointTests.EventId(e) == 1107).Select(e => e.RenderMessage()).ToList();
        Assert.Equal(2, notReady.Count);
        Assert.Contains("has not answered", notReady[0], StringComparison.Ordinal);
        Assert.Contains("DingTalk refused the token call: invalidClientIdOrSecret", notReady[1], StringComparison.Ordinal);
        hole.Release();
    }

    [SkippableFact]
    public async Task A_black_holed_PostgreSQL_leaves_the_probe_answering_503_with_the_reason_while_its_query_hangs()
    {
        await PostgresServer.WithDatabaseAsync(async connectionString =>
        {
            var real = new NpgsqlConnectionStringBuilder(connectionString);
            var address = (await Dns.GetHostAddressesAsync(real.Host!)).First(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
            await using var hole = BlackHole.Start(new IPEndPoint(address, real.Port), hung: false);
            var settings = GatewayFactory.PostgresSettings(new NpgsqlConnectionStringBuilder(connectionString) { Host = "127.0.0.1", Port = hole.Port }.ToString());
            await using var gateway = new GatewayFactory(fixture.DingTalk, settings);
            using var client = Probe(gateway);
            await Eventually.TrueAsync(async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, "ready");
            var logged = gateway.LogEvents.Count;

            hole.Hang();
            for (var probe = 0; probe < 3; probe++)
            {
                var storage = await ReadinessAsync(client, HttpStatusCode.ServiceUnavailable, "storage");
                Assert.Contains("Postgres has not answered yet", storage, StringComparison.Ordinal);
            }

            Assert.True(hole.Held > 0, "PostgreSQL's traffic is still held in the black hole");
            var notReady = Assert.Single(gateway.LogEvents.Skip(logged), e => CardCallbackEndpointTests.EventId(e) == 1107);
            Assert.Contains("storage: Postgres has not answered yet", notReady.RenderMessage(), StringComparison.Ordinal);

            hole.Release();
            await Eventually.TrueAsync(async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, "ready once PostgreSQL answers");
            var ready = Assert.Single(gateway.LogEvents.Skip(logged), e => CardCallbackEndpointTests.EventId(e) == 1108);
            Assert.StartsWith("Ready again", ready.RenderMessage(), StringComparison.Ordinal);
        });
    }

    private GatewayFactory OnDingTalkBehind(BlackHole hole) => new(fixture.DingTalk, new Dictionary<string, string?>
    {
        ["DingTalk:ApiBaseUrl"] = $"http://127.0.0.1:{hole.Port}/",

        // No attempt gives up during the test: the token call ends only when the black hole lets DingTalk answer.
        ["DingTalk:Outbound:AttemptTimeout"] = "00:02:00",
        ["DingTalk:Outbound:TotalTimeout"] = "00:04:00",
    });

    private static HttpClient Probe(GatewayFactory gateway)
    {
        var client = gateway.CreateClient();
        client.Timeout = Guard;
        return client;
    }

    /// <summary>The probe's answer, asserted to be <paramref name="status"/>: the description of <paramref name="check"/>.</summary>
    private static async Task<string> ReadinessAsync(HttpClient client, HttpStatusCode status, string check)
    {
        var ready = await HttpAssert.JsonAsync(await client.GetAsync("/health/ready"), status);
        return ready.GetProperty("checks").GetProperty(check).GetProperty("description").GetString() ?? "";
    }
}
