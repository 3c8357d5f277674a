using DingTalk.CardGateway.Tests.Fixtures;

namespace DingTalk.CardGateway.Tests.Storage.Chaos;

/// <summary>
/// Gateway processes on one database, each in a slot that can be SIGKILLed and restarted. A click is sent to its slot's
/// process, or to any live one while that slot is down, or waits for one to come back — as DingTalk's retries reach
/// whichever replica the load balancer picks.
/// </summary>
internal sealed class ChaosReplicas(FakeDingTalk dingTalk, IReadOnlyDictionary<string, string?> settings, int count) : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly Replica?[] _slots = new Replica?[count];
    private readonly List<Replica> _all = [];
    private TaskCompletionSource _anyUp = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Count => count;

    public async Task StartAsync(int slot)
    {
        var process = await GatewayProcess.StartAsync(dingTalk, settings);
        var replica = new Replica(process, process.CreateClient());
        lock (_gate)
        {
            _slots[slot] = replica;
            _all.Add(replica);
            _anyUp.TrySetResult();
        }
    }

    /// <summary>SIGKILL: the slot takes no more clicks from this moment, and the ones in flight get no answer.</summary>
    public async Task KillAsync(int slot)
    {
        Replica replica;
        lock (_gate)
        {
            replica = _slots[slot] ?? throw new InvalidOperationException($"Slot {slot} is already down.");
            _slots[slot] = null;
            if (_slots.All(s => s is null))
            {
                _anyUp = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        await replica.Process.KillAsync();
    }

    /// <summary>Freezes <paramref name="slot"/>'s process (if it is up) for <paramref name="duration"/>: see <see cref="GatewayProcess.FreezeAsync"/>.</summary>
    public async Task FreezeAsync(int slot, TimeSpan duration)
    {
        Replica? replica;
        lock (_gate)
        {
            replica = _slots[slot];
        }

        if (replica is not null)
        {
            await replica.Process.FreezeAsync(duration);
        }
    }

    /// <summary>The client of <paramref name="slot"/>'s process, or of another live one, or the first to come back.</summary>
    public async Task<HttpClient> ClientAsync(int slot)
    {
        while (true)
        {
            Task up;
            lock (_gate)
            {
                if ((_slots[slot] ?? _slots.FirstOrDefault(s => s is not null)) is { } replica)
                {
                    return replica.Client;
                }

                up = _anyUp.Task;
            }

            await up.WaitAsync(TimeSpan.FromSeconds(60));
        }
    }

    /// <summary>An operator's client on a live process.</summary>
    public async Task<HttpClient> AdminClientAsync()
    {
        await ClientAsync(0);
        lock (_gate)
        {
            return _slots.First(s => s is not null)!.Process.CreateAdminClient();
        }
    }

    /// <summary>The last lines each process (dead ones too) wrote: for a failure message.</summary>
    public string Logs(int lines = 20)
    {
        lock (_gate)
        {
            return string.Join("\n---\n", _all.Select(r => string.Join('\n', r.Process.Output.Split('\n').TakeLast(lines))));
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<Replica> all;
        lock (_gate)
        {
            all = [.. _all];
        }

        // Every process is killed before anything else can fail: a folder that cannot be written used to leave them all
        // running, and each failed run kept two gateways busy on a dropped database.
        foreach (var replica in all)
        {
            replica.Client.Dispose();
            await replica.Process.DisposeAsync();
        }

        if (Environment.GetEnvironmentVariable("CARDGATEWAY_CHAOS_LOGS") is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
            for (var i = 0; i < all.Count; i++)
            {
                await File.WriteAllTextAsync(Path.Combine(folder, $"process-{i}.log"), all[i].Process.Output);
            }
        }
    }

    private sealed record Replica(GatewayProcess Process, HttpClient Client);
}
