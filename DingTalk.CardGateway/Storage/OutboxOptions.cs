using System.ComponentModel.DataAnnotations;

namespace DingTalk.CardGateway.Storage;

/// <summary>The <c>Gateway:Outbox</c> section: how updates for everyone are delivered.</summary>
public sealed class OutboxOptions
{
    public const string Section = "Gateway:Outbox";

    /// <summary>How often the dispatcher looks for due entries when nothing woke it.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long an update for everyone waits for the callback's answer to leave first (DingTalk wants the answer before the update).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan AnswerFirstDelay { get; set; } = TimeSpan.FromSeconds(2);

    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>After this long without success an entry is dead-lettered instead of retried.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan GiveUpAfter { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// How long a replica's claim on a card's queue lasts unless renewed; it is renewed every third of this while a
    /// send is under way, so this is also how soon another replica (or a restart) takes over after a crash.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.300", "01:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often the outbox's undelivered entries are counted for the <c>cardgateway.outbox.entries</c> gauge.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan CountInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The longest one run of an effect after a commit may take (<c>ICardEffect</c>): its token is cancelled then, and it
    /// is retried like a failure. It is also the effect's hold, plus a second, renewed while the run goes on: another replica
    /// may take an effect over only once its replica stopped renewing it (died, froze, lost the database) for that long.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan EffectTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Cards sent to concurrently by one replica (and effects run concurrently by one replica).</summary>
    [Range(1, 64)]
    public int Concurrency { get; set; } = 4;

    /// <summary>
    /// How long to wait before attempt <paramref name="attempts"/> + 1, after <paramref name="attempts"/> failed:
    /// <see cref="RetryBaseDelay"/> doubling, ±20%, never past <see cref="RetryMaxDelay"/>.
    /// </summary>
    public TimeSpan RetryDelay(int attempts)
    {
        var backoff = TimeSpan.FromTicks(Math.Min(RetryMaxDelay.Ticks, RetryBaseDelay.Ticks * (1L << Math.Min(Math.Max(attempts, 1) - 1, 20))));
        return TimeSpan.FromTicks(Math.Min(RetryMaxDelay.Ticks, (backoff * (0.8 + (Random.Shared.NextDouble() * 0.4))).Ticks)); // ±20%, never past the maximum an operator set
    }
}
