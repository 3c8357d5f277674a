using DingTalk.CardGateway.Storage;
using Microsoft.Extensions.Time.Testing;

namespace DingTalk.CardGateway.Tests.Storage;

/// <summary>
/// The fence on calls made under a per-card lease follows the lease's renewals: open for as long as they keep it, shut
/// once the lease runs unrenewed into its last tenth (the process frozen, its renewals not run).
/// </summary>
public sealed class LeaseFenceTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Renewals_keep_the_fence_open_past_the_leases_first_term()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var lost = new CancellationTokenSource();
        using var stop = new CancellationTokenSource();
        var heldUntil = clock.GetUtcNow() + Lease;
        var fence = new LeaseFence(clock, Lease, heldUntil, lost);
        var renewals = 0;
        var keeping = LeaseRenewal.KeepAsync(
            _ =>
            {
                renewals++;
                return Task.FromResult(true);
            },
            Lease,
            heldUntil,
            clock,
            _ => { },
            lost,
            stop.Token,
            fence);

        // Twice the lease, in small steps: a renewal's timer may start a step late.
        for (var step = 0; step < 60; step++)
        {
            clock.Advance(Lease / 30);
            await Task.Delay(5);
        }

        await LeaseFence.RunAsync(fence, () =>
        {
            LeaseFence.EnsureHeld(); // would throw on the lease as first taken: it ran out 15 s ago
            return Task.CompletedTask;
        });
        Assert.True(renewals >= 4, $"{renewals} renewals");
        Assert.False(lost.IsCancellationRequested);
        await stop.CancelAsync();
        await keeping;
    }

    [Fact]
    public async Task A_lease_unrenewed_into_its_last_tenth_shuts_the_fence_and_counts_as_lost()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var lost = new CancellationTokenSource();
        var fence = new LeaseFence(clock, Lease, clock.GetUtcNow() + Lease, lost);

        clock.Advance(Lease * 0.89);
        await LeaseFence.RunAsync(fence, () =>
        {
            LeaseFence.EnsureHeld(); // still more than a tenth left
            return Task.CompletedTask;
        });
        Assert.False(lost.IsCancellationRequested);

        clock.Advance(Lease * 0.02);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => LeaseFence.RunAsync(fence, () =>
        {
            LeaseFence.EnsureHeld();
            return Task.CompletedTask;
        }));
        Assert.True(lost.IsCancellationRequested);
    }

    [Fact]
    public void Calls_outside_a_lease_are_not_fenced()
    {
        LeaseFence.EnsureHeld();
        Assert.False(LeaseFence.IsFenced);
    }
}
