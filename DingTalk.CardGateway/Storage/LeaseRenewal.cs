namespace DingTalk.CardGateway.Storage;

/// <summary>
/// What the gateway's per-card leases share (the outbox dispatcher's claim on a card it sends to, the typewriter's on a
/// card it types into): an owner per process, and the renewal that keeps a lease while its work goes on.
/// </summary>
internal static class LeaseRenewal
{
    /// <summary>A lease owner: the machine, the process, and an instance of its own (tests run several gateways in one process).</summary>
    public static string NewOwner() => $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";

    /// <summary>
    /// Every third of <paramref name="duration"/>, renews the lease held until <paramref name="heldUntil"/> through
    /// <paramref name="renew"/> (false once the lease is not this owner's), until
    /// <paramref name="stop"/>. A renewal that fails (<paramref name="failed"/> is told) is tried again while the lease still
    /// runs, each try cut off when it runs out. Once a renewal finds the lease another owner's, or the lease ran out
    /// unrenewed, another replica may hold the card: <paramref name="lost"/> is cancelled and the renewal ends. Each renewal
    /// is told to <paramref name="fence"/>, if any.
    /// </summary>
    public static async Task KeepAsync(
        Func<CancellationToken, Task<bool>> renew,
        TimeSpan duration,
        DateTimeOffset heldUntil,
        TimeProvider clock,
        Action<Exception> failed,
        CancellationTokenSource lost,
        CancellationToken stop,
        LeaseFence? fence = null)
    {
        await Task.Yield();
        try
        {
            while (true)
            {
                var wait = duration / 3;
                var left = heldUntil - clock.GetUtcNow();
                if (left > TimeSpan.Zero)
                {
                    // The work ending is how nearly every renewal ends, once per card sent to: awaited without throwing
                    // (under load a throw each was dozens of exceptions a second, each a stack walk).
                    await Task.Delay(left < wait ? left : wait, clock, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    if (stop.IsCancellationRequested)
                    {
                        return;
                    }
                }

                var now = clock.GetUtcNow();
                if (now < heldUntil)
                {
                    using var attempt = new CancellationTokenSource(heldUntil - now, clock);
                    using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, attempt.Token);
                    try
                    {
                        if (await renew(linked.Token))
                        {
                            heldUntil = now + duration;
                            fence?.Renewed(heldUntil);
                            continue;
                        }
                    }
                    catch (Exception ex) when (!stop.IsCancellationRequested)
                    {
                        failed(ex);
                        if (clock.GetUtcNow() < heldUntil)
                        {
                            continue;
                        }
                    }
                }

                await lost.CancelAsync();
                return;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // the work is over
        }
    }
}
