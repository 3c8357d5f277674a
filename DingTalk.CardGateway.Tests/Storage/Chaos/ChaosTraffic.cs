namespace DingTalk.CardGateway.Tests.Storage.Chaos;

/// <summary>
/// Plays a <see cref="ChaosPlan"/>: every user at once, each user's clicks one after the other, over a <see cref="IChaosWire"/>
/// that sends a click again until it is answered — DingTalk redelivers an unanswered click — so every click is answered,
/// and must count, exactly once.
/// </summary>
internal sealed class ChaosTraffic(IChaosWire wire, ChaosPlan plan, int replicas)
{
    private readonly TaskCompletionSource _halfway = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _sends;
    private int _threshold = int.MaxValue;

    public IReadOnlyCollection<ChaosAnswer> Answers => wire.Answers;

    /// <summary>Sendings that got no answer and were sent again.</summary>
    public int Unanswered => wire.Unanswered;

    /// <summary>Completes once <paramref name="fraction"/> of the planned sendings have left: when to kill a process.</summary>
    public Task SentAsync(double fraction)
    {
        Volatile.Write(ref _threshold, (int)(plan.PlannedSends * fraction));
        return _halfway.Task;
    }

    public Task RunAsync() => Task.WhenAll(plan.Users.Select(PlayAsync));

    private async Task PlayAsync(ChaosUser user)
    {
        await Task.Delay(user.StartMs);
        foreach (var step in user.Steps)
        {
            var other = (step.Replica + 1) % replicas;
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

    private Task SendAsync(ChaosDelivery click, int replica, ChaosSend send)
    {
        if (Interlocked.Increment(ref _sends) >= Volatile.Read(ref _threshold))
        {
            _halfway.TrySetResult();
        }

        return wire.SendAsync(click, replica, send);
    }
}
