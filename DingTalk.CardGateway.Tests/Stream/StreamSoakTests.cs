using System.Globalization;
using DingTalk.Sandbox.Stream;
using Xunit.Abstractions;

namespace DingTalk.CardGateway.Tests.Stream;

/// <summary>
/// Frames keep coming while DingTalk drops the socket at random moments. Runs for
/// <c>CARDGATEWAY_STREAM_SOAK_SECONDS</c> (20 by default).
/// </summary>
[Collection(StreamGatewayCollection.Name)]
public sealed class StreamSoakTests(StreamGateway gateway, ITestOutputHelper output)
{
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(
        double.Parse(Environment.GetEnvironmentVariable("CARDGATEWAY_STREAM_SOAK_SECONDS") ?? "20", CultureInfo.InvariantCulture));

    [Fact]
    public async Task Frames_pushed_while_the_socket_drops_at_random_are_all_answered_and_none_is_handled_twice()
    {
        var outTrackId = await gateway.SendCardAsync("tpl.soak");
        var connectionsBefore = gateway.Stream.Connections.Count;
        var messages = new List<SandboxStreamMessage>();
        var duplicates = 0;
        using var stop = new CancellationTokenSource(Duration);

        var chaos = DropAtRandomAsync(stop.Token);
        while (!stop.IsCancellationRequested)
        {
            var slowness = Random.Shared.Next(0, 30).ToString(CultureInfo.InvariantCulture); // some are in flight when the socket drops
            messages.Add(await gateway.Stream.PushCardCallbackAsync(outTrackId, $"soak-{messages.Count}", new { action = CountingHandler.Action, delayMs = slowness }));
            if (messages.Count % 10 == 0 && messages[Random.Shared.Next(messages.Count)] is { IsSettled: true } answered)
            {
                await gateway.Stream.RedeliverAsync(answered.MessageId); // DingTalk's duplicates after a correct answer
                duplicates++;
            }

            await Task.Delay(Random.Shared.Next(20, 60));
        }

        var drops = await chaos;
        await Task.WhenAll(messages.Select(m => m.Answered)).WaitAsync(TimeSpan.FromSeconds(120));

        var runs = gateway.Invocations.For(outTrackId);
        output.WriteLine(
            $"{messages.Count} frames pushed over {Duration.TotalSeconds:0} s, {drops} drops, {gateway.Stream.Connections.Count - connectionsBefore} new connections, "
            + $"{messages.Sum(m => m.Deliveries)} deliveries ({messages.Count(m => m.Deliveries > 1)} frames delivered more than once, {duplicates} of them deliberate duplicates), "
            + $"{messages.Sum(m => m.Answers.Count)} answers, {runs.Count} handler runs");
        Assert.All(messages, m => Assert.Equal(200, m.Answers[0].Code));
        Assert.Equal(messages.Count, runs.Count);
        Assert.Equal(messages.Count, runs.Select(r => r.UserId).Distinct().Count());
        Assert.True(drops > 0 && gateway.Stream.Connections.Count > connectionsBefore, "the socket was dropped and replaced during the run");
        Assert.Empty(gateway.Stream.ProtocolErrors);
    }

    private async Task<int> DropAtRandomAsync(CancellationToken stop)
    {
        var drops = 0;
        try
        {
            while (true)
            {
                await Task.Delay(Random.Shared.Next(200, 1500), stop);
                if (gateway.Stream.OpenConnections.Count > 0)
                {
                    gateway.Stream.DropAll();
                    drops++;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return drops;
        }
    }
}
