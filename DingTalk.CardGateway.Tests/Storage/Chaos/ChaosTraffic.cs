using System.Collections.Concurrent;

namespace DingTalk.CardGateway.Tests.Storage.Chaos;

/// <summary>
/// Plays a <see cref="ChaosPlan"/>: every user at once, each user's clicks one after the other. A sending that gets no
/// answer (its process killed, or down) is sent again, identical, until one answers — DingTalk redelivers an unanswered
/// click — so every click is answered, and must count, exactly once.
/// </summary>
internal sealed class ChaosTraffic(ChaosReplicas replicas, ChaosPlan plan)
{
    private readonly ConcurrentQueue<ChaosAnswer> _answers = new();
    private readonly TaskCompletionSource _halfway = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int[] _inFlight = new int[replicas.Count];
    private int _sends;
    private int _unanswered;
    private int _threshold = int.MaxValue;

    public IReadOnlyCollection<ChaosAnswer> Answers => _answers;

    /// <summary>Sendings that got no answer and were sent again.</summary>
    public int Unanswered => Volatile.Read(ref _unanswered);

    /// <summary>Completes once <paramref name="fraction"/> of the planned sendings have left: when to kill a process.</summary>
    public Task SentAsync(double fraction)
    {
        Volatile.Write(ref _threshold, (int)(plan.PlannedSends * fraction));
        return _halfway.Task;
    }

    /// <summary>Sendings to <paramref name="slot"/> not answered yet.</summary>
    public int InFlight(int slot) => Volatile.Read(ref _inFlight[slot]);

    public Task RunAsync() => Task.WhenAll(plan.Users.Select(PlayAsync));

    private async Task PlayAsync(ChaosUser user)
    {
        await Task.Delay(user.StartMs);
        foreach (var step in user.Steps)
        {
            var other = (step.Replica + 1) % replicas.Count;
            await (step.Spread switch
            {
                ChaosSpread.BothReplicas => Task.WhenAll(SendAsync(step.Click, step.Replica, ChaosSend.First), SendAsync(step.Click, other, ChaosSend.Twin)),
                ChaosSpread.TwiceToOne => Task.WhenAll(SendAsync(step.Click, step.Replica, ChaosSend.First), SendAsync(step.Click, step.Replica, ChaosSend.Twin)),
                _ => SendAsync(step.Click, step.Replica, ChaosSend.First),
            });
            if (step.StaleRedelivery is { } stale)
            {
                await SendAsync(stale, other, ChaosSend.Stale);
            }

            await Task.Delay(step.PauseMs);
        }
    }

    private async Task SendAsync(ChaosDelivery click, int slot, ChaosSend send)
    {
        for (var tries = 1; ; tries++)
        {
            var client = await replicas.ClientAsync(slot);
            if (Interlocked.Increment(ref _sends) >= Volatile.Read(ref _threshold))
            {
                _halfway.TrySetResult();
            }

            var sentTo = slot;
            Interlocked.Increment(ref _inFlight[sentTo]);
            try
            {
                using var request = click.Request();
                using var response = await client.SendAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                _answers.Enqueue(new ChaosAnswer(click, send, (int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, text, tries));
                return;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
            {
                Interlocked.Increment(ref _unanswered);
                Assert.True(tries < 100, $"Seed {plan.Seed}: {click} got no answer in {tries} tries: {e.Message}");
                slot = (slot + 1) % replicas.Count; // DingTalk's retry may land on another replica
                await Task.Delay(20);
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight[sentTo]);
            }
        }
    }
}
