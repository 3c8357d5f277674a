using System.Net;
using System.Net.Http.Json;
using DingTalk.CardGateway.Cards;
using DingTalk.CardGateway.Hosting;
using DingTalk.CardGateway.Storage.Sql;
using DingTalk.CardGateway.Tests.Callbacks;
using DingTalk.CardGateway.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Xunit.Abstractions;

namespace DingTalk.CardGateway.Tests.Cards;

/// <summary>
/// DingTalk's 20 calls a second are per app and API, whichever replica makes them: on PostgreSQL the replicas take turns
/// in the database, so together they keep to <c>DingTalk:Outbound:PermitsPerSecondPerApi</c> as one gateway would.
/// </summary>
[Collection(AloneCollection.Name)]
public sealed class SharedApiPaceTests(ITestOutputHelper output)
{
    private const string CreatePath = "/v1.0/card/instances/createAndDeliver";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public Task Two_replicas_sending_at_once_keep_together_to_one_replicas_pace_and_DingTalk_refuses_none() =>
        WaitingHandlerTests.OnPostgresAsync(
            async first =>
            {
                var second = CallbackGateway.ReplicaOf(first);
                await second.InitializeAsync();
                try
                {
                    // The fake refuses a 21st call to one API within a second, as DingTalk does. Each replica alone keeps
                    // to 16 a second; two at once, each at its own pace, would make ~28.
                    // Each replica's first card fetches its token and warms its path up: the burst below is then paced by the
                    // turns alone, not bunched up behind a replica's first calls.
                    await Task.WhenAll(SendAsync(first, "pace-warm-a"), SendAsync(second, "pace-warm-b")).WaitAsync(Patience);
                    var before = first.DingTalk.State.RequestsTo(CreatePath).Count;
                    var sends = Enumerable.Range(0, 40).SelectMany(i => new[] { SendAsync(first, $"pace-a-{i}"), SendAsync(second, $"pace-b-{i}") });
                    await Task.WhenAll(sends).WaitAsync(Patience);

                    var calls = first.DingTalk.State.RequestsTo(CreatePath).Skip(before).ToList();
                    var accepted = calls.Where(c => c.Status == 200).Select(c => c.At).Order().ToList();
                    var refused = calls.Count(c => c.Status == 403);
                    output.WriteLine($"{calls.Count} calls, {refused} refused, at most {PeakPerSecond(calls.Select(c => c.At))} in any one second, {(accepted[^1] - accepted[0]).TotalSeconds:0.0} s");
                    var failures = first.Logs.LogEvents.Concat(second.Logs.LogEvents).Where(e => CardCallbackEndpointTests.EventId(e) == 4131).Select(e => e.RenderMessage());
                    Assert.Empty(failures); // the database gave every turn

                    // The turns: 80 calls a turn apart take 79 turns (at 16 a second, 4.9 s), less what a stall of the machine
                    // may take off by holding the first back; each replica at its own pace, they took 2.7-3.3 s.
                    Assert.True(accepted[^1] - accepted[0] >= TimeSpan.FromMilliseconds(63 * 79) - TimeSpan.FromSeconds(1), $"80 calls in {(accepted[^1] - accepted[0]).TotalSeconds:0.0} s");

                    // And DingTalk's limit: each replica at its own pace, 30 of the calls were refused 403 (up to 30 reached the
                    // fake in one second). Taking turns, none on a quiet machine; a stall of this one (every replica and the
                    // fake in one process) can still bunch a few turns up on their way (3-6 seen with four test runs at once).
                    Assert.True(refused <= 10, $"{refused} calls refused 403");
                    Assert.Equal(80, calls.Count(c => c.Status == 200));
                }
                finally
                {
                    await second.DisposeAsync();
                }
            },
            new Dictionary<string, string?> { ["DingTalk:Outbound:PermitsPerSecondPerApi"] = "16" });

    [SkippableFact]
    public Task A_turn_further_than_the_wait_limit_is_not_taken() =>
        WaitingHandlerTests.OnPostgresAsync(async gateway =>
        {
            using var services = Pace(gateway.App.Services.GetRequiredService<GatewayDatabase>().ConnectionString, TimeProvider.System, permitsPerSecond: 1, queueLimit: 2);
            var pace = services.GetRequiredService<SharedApiPace>();
            Assert.Equal(TimeSpan.FromSeconds(2), pace.MaxWait); // two turns of a second

            // Turns a second apart, now, in a second and in two; a fourth would be three seconds away, past the limit.
            var turns = new List<TimeSpan?>();
            for (var call = 0; call < 4; call++)
            {
                turns.Add(await pace.TakeTurnAsync("PUT /v1.0/card/instances", CancellationToken.None));
            }

            Assert.Equal(TimeSpan.Zero, turns[0]);
            Assert.InRange(turns[1]!.Value, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(1)); // a second after the first, less the time since
            Assert.InRange(turns[2]!.Value, turns[1]!.Value + TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(2));
            Assert.Null(turns[3]);
            Assert.Equal(TimeSpan.Zero, await pace.TakeTurnAsync("POST /v1.0/card/instances/createAndDeliver", CancellationToken.None)); // another API, its own turns
        });

    [SkippableFact]
    public Task A_database_that_does_not_answer_is_not_waited_for_and_said_once_until_it_answers_again() =>
        WaitingHandlerTests.OnPostgresAsync(async gateway =>
        {
            var real = new NpgsqlConnectionStringBuilder(gateway.App.Services.GetRequiredService<GatewayDatabase>().ConnectionString);
            var address = (await Dns.GetHostAddressesAsync(real.Host!)).First(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
            await using var hole = BlackHole.Start(new IPEndPoint(address, real.Port), hung: true);
            var throughHole = new NpgsqlConnectionStringBuilder(real.ConnectionString) { Host = "127.0.0.1", Port = hole.Port, Timeout = 300, CommandTimeout = 300 }.ToString();
            var clock = new FakeTimeProvider();
            using var services = Pace(throughHole, clock, permitsPerSecond: 5, queueLimit: 100);
            var pace = services.GetRequiredService<SharedApiPace>();
            var logs = services.GetRequiredService<FakeLogCollector>();

            // The statement goes into the hole: past its limit the call goes at the replica's own pace.
            var first = pace.WaitForTurnAsync("PUT /v1.0/card/instances", CancellationToken.None);
            await Eventually.TrueAsync(() => hole.Accepted > 0, "the statement's connection in the hole");
            clock.Advance(pace.StatementLimit);
            Assert.True(await first.WaitAsync(Patience));

            // Meanwhile calls do not ask the database, and it is said once.
            var accepted = hole.Accepted;
            for (var call = 0; call < 5; call++)
            {
                Assert.True(await pace.WaitForTurnAsync("PUT /v1.0/card/instances", CancellationToken.None).WaitAsync(Patience));
            }

            Assert.Equal(accepted, hole.Accepted);
            Assert.Equal([4131], EventIds(logs));

            // Healed, the database is asked again once the wait after a failure is over, and that is said too.
            hole.Release();
            clock.Advance(SharedApiPace.RetryAfterFailure);
            var again = pace.WaitForTurnAsync("PUT /v1.0/card/instances", CancellationToken.None);
            while (!again.IsCompleted)
            {
                clock.Advance(TimeSpan.FromMilliseconds(50)); // its turn may be behind the one the held statement took
                await Task.WhenAny(again, Task.Delay(10));
            }

            Assert.True(await again);
            Assert.Equal([4131, 4132], EventIds(logs));
        });

    private static async Task SendAsync(CallbackGateway at, string outTrackId)
    {
        var response = await at.Api.PostAsJsonAsync("/api/cards", new { cardTemplateId = "tpl.pace", outTrackId, openConversationId = "cidPace==", cardData = new { } });
        await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
    }

    /// <summary>The most calls that reached the fake within any one second.</summary>
    private static int PeakPerSecond(IEnumerable<DateTimeOffset> arrivals)
    {
        var sorted = arrivals.Order().ToList();
        var peak = 0;
        for (int start = 0, end = 0; end < sorted.Count; end++)
        {
            while (sorted[end] - sorted[start] >= TimeSpan.FromSeconds(1))
            {
                start++;
            }

            peak = Math.Max(peak, end - start + 1);
        }

        return peak;
    }

    /// <summary>The event ids logged, in order.</summary>
    private static List<int> EventIds(FakeLogCollector logs) => [.. logs.GetSnapshot().Select(r => r.Id.Id).Where(id => id != 0)];

    private static ServiceProvider Pace(string connectionString, TimeProvider clock, int permitsPerSecond, int queueLimit) =>
        new ServiceCollection()
            .AddFakeLogging()
            .AddSingleton<IOptions<GatewayOptions>>(Options.Create(new GatewayOptions { Storage = { Provider = StorageOptions.Postgres, ConnectionString = connectionString } }))
            .AddSingleton<Microsoft.Extensions.Hosting.IHostEnvironment>(new HostingEnvironment { ContentRootPath = Path.GetTempPath() })
            .AddSingleton<GatewayDatabase>()
            .AddSingleton<IOptions<DingTalkOptions>>(Options.Create(new DingTalkOptions { Outbound = { PermitsPerSecondPerApi = permitsPerSecond, QueueLimitPerApi = queueLimit } }))
            .AddSingleton(clock)
            .AddSingleton<SharedApiPace>()
            .BuildServiceProvider();
}
