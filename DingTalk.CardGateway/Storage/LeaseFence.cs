namespace DingTalk.CardGateway.Storage;

/// <summary>
/// Fences the DingTalk calls made under a per-card lease (the outbox dispatcher's): before each HTTP attempt
/// (<see cref="Cards.LeaseFenceHandler"/>) the lease must still run for a tenth of its duration, as far as this process
/// last renewed it. A process frozen past its lease (a VM paused, a long collection, SIGSTOP) wakes with work under way;
/// which runs first, its renewal finding the card taken or the attempt it was about to make, is up to the thread pool —
/// and the attempt would send an update older than the one the replica that took the card over may have sent since. The
/// fence refuses that attempt: the lease counts as lost (<paramref name="lost"/> is cancelled), and the entries stay
/// pending for the card's new owner.
/// </summary>
/// <param name="clock">This process's clock, which the lease's times are in.</param>
/// <param name="duration">The lease's duration: attempts stop when less than a tenth of it is left.</param>
/// <param name="heldUntil">When the lease runs out, by this process's clock, as it was taken.</param>
/// <param name="lost">Cancelled when an attempt finds the lease run out: the work under it stops.</param>
public sealed class LeaseFence(TimeProvider clock, TimeSpan duration, DateTimeOffset heldUntil, CancellationTokenSource lost)
{
    private static readonly AsyncLocal<LeaseFence?> Current = new();

    private long _heldUntil = heldUntil.ToUnixTimeMilliseconds();
    private int _attempted;

    /// <summary>Runs <paramref name="work"/> with its DingTalk calls fenced by <paramref name="fence"/>.</summary>
    public static async Task RunAsync(LeaseFence fence, Func<Task> work)
    {
        Current.Value = fence; // an async method's own: the caller's value is back once it returns
        await work();
    }

    /// <summary>
    /// Throws <see cref="OperationCanceledException"/>, the lease counted as lost, when the calls under way are fenced by a
    /// lease that runs out in less than a tenth of its duration; nothing when none is.
    /// </summary>
    public static void EnsureHeld() => Current.Value?.Ensure();

    /// <summary>Whether the calls under way are fenced by a lease.</summary>
    internal static bool IsFenced => Current.Value is not null;

    /// <summary>Whether an attempt passed the fence: one may be on its way to DingTalk, whatever became of the call since.</summary>
    public bool Attempted => Volatile.Read(ref _attempted) == 1;

    /// <summary>The lease was renewed until <paramref name="until"/>.</summary>
    public void Renewed(DateTimeOffset until) => Interlocked.Exchange(ref _heldUntil, until.ToUnixTimeMilliseconds());

    private void Ensure()
    {
        var left = Interlocked.Read(ref _heldUntil) - clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (left < duration.TotalMilliseconds / 10)
        {
            lost.Cancel();
            throw new OperationCanceledException($"The card's lease had {left} ms left, not renewed in time: another replica may hold the card, so this attempt was not made.", lost.Token);
        }

        Volatile.Write(ref _attempted, 1);
    }
}
