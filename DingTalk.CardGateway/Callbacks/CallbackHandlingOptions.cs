using System.ComponentModel.DataAnnotations;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>The <c>Gateway:Callbacks</c> section: how the gateway receives card callbacks.</summary>
public sealed class CallbackHandlingOptions : IValidatableObject
{
    public const string Section = "Gateway:Callbacks";

    /// <summary>
    /// How long after a callback arrives its handler may still answer with its clicker update; past it, the answer goes
    /// without. It counts from the arrival, not from the handler's start: DingTalk's 2 seconds run from when it sent the
    /// callback, so time spent waiting for storage comes off the handler's share. A callback whose outcome is not being
    /// committed yet when it is spent — still waiting for storage, in its handler, or waiting to commit — is answered
    /// <c>{}</c> at once and finished after. The default leaves half a second for the network.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan HandlerBudget { get; set; } = TimeSpan.FromMilliseconds(1500);

    /// <summary>
    /// The longest a handler may run. Past it, its <see cref="CancellationToken"/> is cancelled: a handler that honours it
    /// is recorded as failed, its state changes rolled back, and the callback's transaction (on PostgreSQL its row locks,
    /// on SQLite the writer, if it held it) is let go. Without it, a handler that never returns would hold them for as long
    /// as the process lives, and every later click on the same card would queue behind it. At least
    /// <see cref="HandlerBudget"/>.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan HandlerTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The longest a callback's transaction may sit idle on PostgreSQL (its handler awaiting something, at most
    /// <see cref="HandlerTimeout"/>, then <see cref="HandlerDrain.AfterCancel"/> to honour its cancellation, and a margin):
    /// past it PostgreSQL ends the session, so a replica stopped inside a callback lets go of its click and its card.
    /// </summary>
    internal TimeSpan TransactionIdleLimit => HandlerTimeout + HandlerDrain.AfterCancel + TimeSpan.FromSeconds(5);

    /// <summary>
    /// How many more times a handler runs when its click met another click's change and could not be kept as it ran: on
    /// SQLite, a state it changed was changed by another click while it waited on something else; on PostgreSQL, the
    /// database failed it in a deadlock (40P01) or a serialization failure (40001). Each time, what it wrote is undone
    /// and it runs again on what the other click left (<see cref="Handlers.CardActionContext.Run"/> says which run it
    /// is). 0: such a click fails at once, its user answered <c>{}</c>, as a handler that throws.
    /// </summary>
    [Range(0, 10)]
    public int ConflictRetries { get; set; } = 2;

    /// <summary>
    /// An answer that leaves this long or longer after its callback arrived is logged (warning 3110) with where its
    /// time went, and counted (<c>cardgateway.callbacks.late</c>): at DingTalk's 2 seconds the user has seen an error.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan LateAnswer { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a stopping gateway waits for the callbacks it is handling (an overrun handler's too) before it cancels
    /// their handlers. Keep the orchestrator's own stop timeout (Docker's 10 s, Kubernetes' 30 s) above this plus ~10 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan StopGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a stopping gateway goes on taking clicks, its readiness 503, before it stops listening
    /// (<see cref="Hosting.StopDelay"/>): for a Kubernetes Service or load balancer that still routes to it for a moment
    /// after SIGTERM. 0: it stops listening at once. Counted in the host's stop timeout.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan StopDelay { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// HTTP callbacks handled at once, for the whole process: each holds its slot until its click is committed, a handler
    /// past its budget included; four times as many more wait for one, and one more is refused with 503
    /// (<see cref="HttpCallbackSlots"/>). Read at startup. The default, with Stream's 32 frame slots, stays under Npgsql's
    /// pool of 100 connections, since a callback on PostgreSQL holds one from its claim to its commit.
    /// </summary>
    [Range(1, 4096)]
    public int MaxInFlight { get; set; } = 64;

    /// <summary>Larger callback bodies are refused with 413.</summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>First wait after a failed callback registration; doubles up to <see cref="RegistrationRetryMaxDelay"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan RegistrationRetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan RegistrationRetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (HandlerTimeout < HandlerBudget)
        {
            yield return new ValidationResult(
                $"{Section}:{nameof(HandlerTimeout)} ({Section.Replace(":", "__", StringComparison.Ordinal)}__{nameof(HandlerTimeout)}) must be at least "
                + $"{Section}:{nameof(HandlerBudget)} ({HandlerBudget}), not {HandlerTimeout}: a handler cancelled before its budget could never answer its clicker.");
        }
    }
}
