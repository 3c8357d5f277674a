using System.Collections.Concurrent;
using System.Text.Json;
using DingTalk.Sandbox.Stream;

namespace DingTalk.CardGateway.Tests.Storage.Chaos;

/// <summary>
/// Clicks as Stream frames: DingTalk pushes each click's frame to one of the app's open connections at random, pushes it
/// again while it stays unanswered (possibly to another replica, or once one is back), and a twin or a stale redelivery
/// is the same frame pushed again, answered or not. Which replica a frame reaches is DingTalk's choice, not the plan's.
/// </summary>
internal sealed class ChaosStreamWire(SandboxStream stream, ChaosPlan plan) : IChaosWire
{
    /// <summary>Generous: a frame pushed while every replica is down waits for one to start and DingTalk's next round.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    private readonly ConcurrentDictionary<string, int> _pushes = new(StringComparer.Ordinal);

    /// <summary>
    /// Every answer each click's frame got, from whichever connection: its first answer as <see cref="ChaosSend.First"/>,
    /// the others (to twins, DingTalk's own redeliveries and stale duplicates alike) as <see cref="ChaosSend.Redelivered"/>.
    /// The clicker's part is what the answer carries in <c>response</c>; an answer without one is shown as its raw data.
    /// </summary>
    public IReadOnlyCollection<ChaosAnswer> Answers =>
        [.. plan.Clicks.Where(c => c.Frame() is not null).SelectMany(click => click.Frame()!.Answers.Select((answer, i) =>
            new ChaosAnswer(click, i == 0 ? ChaosSend.First : ChaosSend.Redelivered, answer.Code, answer.Headers.GetValueOrDefault("contentType"), Response(answer.Data), click.Frame()!.Deliveries)))];

    /// <summary>Pushes DingTalk made on its own because a frame went unanswered (to a killed process, or too slowly).</summary>
    public int Unanswered => Frames().Sum(f => Math.Max(0, f.Deliveries - _pushes.GetValueOrDefault(f.MessageId)));

    /// <summary>Frames pushed and not answered yet, on every connection that takes frames (pings included: they are answered at once).</summary>
    public IReadOnlyList<int> InFlightPerConnection() => [.. stream.OpenConnections.Where(c => !c.IsGoingAway).Select(c => c.FramesSent - c.AnswersReceived)];

    public async Task SendAsync(ChaosDelivery click, int replica, ChaosSend send)
    {
        var frame = await click.PushAsync(stream);
        _pushes.AddOrUpdate(frame.MessageId, 1, (_, pushes) => pushes + 1);
        try
        {
            await frame.Answered.WaitAsync(Patience);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"Seed {plan.Seed}: {click} ({send}) was not answered in {Patience.TotalSeconds:0} s, pushed {frame.Deliveries} times");
        }
    }

    private IEnumerable<SandboxStreamMessage> Frames() => plan.Clicks.Select(c => c.Frame()).OfType<SandboxStreamMessage>();

    /// <summary>The answer's <c>response</c> (what DingTalk shows the clicker), or the whole data when it has none.</summary>
    private static string Response(string data)
    {
        try
        {
            using var document = JsonDocument.Parse(data);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("response", out var response)
                ? response.GetRawText()
                : $"(no response) {data}";
        }
        catch (JsonException)
        {
            return $"(not JSON) {data}";
        }
    }
}
