using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Storage.Chaos;

/// <summary>
/// Makes the fake DingTalk refuse card updates at random, the ways DingTalk does when it is busy (dingtalk-wire.md §1):
/// 503, 500 <c>system.busy</c>, 429, 403 <c>QpsLimit…</c> throttling, and a 504 for an update that went through but whose
/// answer was lost, and slow answers (some past the gateway's timeout: carried out, yet seen as failed). All are worth
/// retrying: none may lose an update, leave it dead-lettered or let an older one overtake it.
/// </summary>
internal sealed class ChaosMonkey(FakeDingTalk fake, int seed, IReadOnlyList<string> cards)
{
    private const string Update = "/v1.0/card/instances";
    private readonly Random _random = new(seed);
    private int _slowAnswers;
    private int _slowMilliseconds;

    public async Task RunAsync(CancellationToken stop)
    {
        var dingTalk = fake.State;
        fake.AnswerDelay = (method, path) =>
            method == HttpMethod.Put && path == Update && Interlocked.Decrement(ref _slowAnswers) >= 0 ? TimeSpan.FromMilliseconds(Volatile.Read(ref _slowMilliseconds)) : TimeSpan.Zero;
        try
        {
            await InjectAsync(dingTalk, stop);
        }
        finally
        {
            fake.AnswerDelay = null;
        }
    }

    private async Task InjectAsync(DingTalk.Sandbox.SandboxState dingTalk, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var times = _random.Next(1, 4);
            var only = _random.Next(2) == 0 ? $"\"{cards[_random.Next(cards.Count)]}\"" : null; // one card's updates, or any
            switch (_random.Next(8))
            {
                case 0:
                    dingTalk.FailNext(HttpMethod.Put, Update, 503, "ServiceUnavailable", times: times, bodyContains: only);
                    break;
                case 1:
                    dingTalk.FailNext(HttpMethod.Put, Update, 500, "system.busy", times: times, bodyContains: only);
                    break;
                case 2:
                    dingTalk.FailNext(HttpMethod.Put, Update, 429, "system.busy", times: times, bodyContains: only);
                    break;
                case 3:
                    dingTalk.FailNext(HttpMethod.Put, Update, 403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", "The QPS limit per app for this API has been reached.", times, bodyContains: only);
                    break;
                case 4:
                    dingTalk.FailNext(HttpMethod.Put, Update, 403, "Forbidden.AccessDenied.QpsLimitForApi", "The QPS limit for this API has been reached.", times, bodyContains: only);
                    break;
                case 6:
                    Volatile.Write(ref _slowMilliseconds, _random.Next(200, 1600)); // the gateway waits 1 s for an answer
                    Volatile.Write(ref _slowAnswers, times);
                    break;
                default:
                    dingTalk.LoseAnswerNext(HttpMethod.Put, Update, times: 1, bodyContains: only);
                    break;
            }

            try
            {
                await Task.Delay(_random.Next(50, 400), stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
