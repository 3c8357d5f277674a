using System.Collections.Concurrent;

namespace DingTalk.CardGateway.Tests.Storage.Chaos;

/// <summary>
/// Clicks as HTTP callbacks: each sending to its replica's process (or another live one while that one is down). A sending
/// that gets no answer (its process killed, or down) is sent again, identical, until one answers — DingTalk redelivers an
/// unanswered click, possibly to another replica.
/// </summary>
internal sealed class ChaosHttpWire(ChaosReplicas replicas, int seed) : IChaosWire
{
    private readonly ConcurrentQueue<ChaosAnswer> _answers = new();
    private readonly int[] _inFlight = new int[replicas.Count];
    private int _unanswered;

    public IReadOnlyCollection<ChaosAnswer> Answers => _answers;

    public int Unanswered => Volatile.Read(ref _unanswered);

    /// <summary>Sendings to <paramref name="slot"/> not answered yet.</summary>
    public int InFlight(int slot) => Volatile.Read(ref _inFlight[slot]);

    public async Task SendAsync(ChaosDelivery click, int replica, ChaosSend send)
    {
        var slot = replica;
        for (var tries = 1; ; tries++)
        {
            var client = await replicas.ClientAsync(slot);
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
                Assert.True(tries < 100, $"Seed {seed}: {click} got no answer in {tries} tries: {e.Message}");
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
