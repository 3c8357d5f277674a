namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// Where one callback's time goes between its arrival and its answer. DingTalk's 2 seconds run from when it sent the
/// callback, so the handler's budget counts from the arrival too (<see cref="Remaining"/>); a callback still short of
/// being committed when the budget is spent is answered at once (<see cref="TryAnswerEarly"/>); and an answer that
/// leaves late is logged with the part that took the time (<see cref="Late"/>).
/// </summary>
/// <param name="clock">The pipeline's clock, which the budget's wait also uses.</param>
/// <param name="arrivedAt">
/// <paramref name="clock"/>'s <see cref="TimeProvider.GetTimestamp"/> when the callback arrived: as an HTTP callback's
/// endpoint began, before its body was read; as a Stream frame was read off the socket.
/// </param>
public sealed class AnswerTimeline(TimeProvider clock, long arrivedAt)
{
    /// <summary>As the callback entered the pipeline, read, parsed and verified.</summary>
    private readonly long _entered = clock.GetTimestamp();

    private const int Claiming = 0, HandlerRunning = 1, AnsweredEarly = 2, Abandoned = 3, Redelivery = 4, HandlerDone = 5, Committing = 6, RedeliveryAnsweredEarly = 7;

    private int _state;
    private long _handlerStarted;
    private long _handlerEnded;

    /// <summary>Where the callback was when it was answered early: what it did after that is not part of its answer's time.</summary>
    private AnswerStage? _answeredEarlyAt;

    /// <summary>
    /// A timeline for a click whose answer has left already: a redelivery answered <c>{}</c> while another delivery held
    /// the click, seen through in the background in case that delivery ends without a record
    /// (<see cref="CallbackPipeline"/>). Its claim, if it gets it, is handled and recorded as answered early.
    /// </summary>
    public static AnswerTimeline SeeingThrough(TimeProvider clock)
    {
        var timeline = new AnswerTimeline(clock, arrivedAt: 0) { IsSeeingThrough = true }; // its budget long spent: no waiting for a record
        timeline.TryAnswerEarly();
        return timeline;
    }

    /// <summary>Made by <see cref="SeeingThrough"/>: a claim refused again is not a redelivery to answer or log.</summary>
    public bool IsSeeingThrough { get; private init; }

    /// <summary>
    /// This delivery got the click's claim (<see cref="Claimed"/>): from then on, a failure of its own loses the click
    /// unless another delivery records it. Until then a redelivery's failure leaves the click to the delivery that holds it.
    /// </summary>
    public bool HoldsClaim => Volatile.Read(ref _claimed);

    /// <summary>
    /// Refused the claim (<see cref="Redelivered"/>) and not claimed since: another delivery holds the click, or has
    /// recorded it, so a failure of this one loses nothing of its own.
    /// </summary>
    public bool HeldElsewhere => Volatile.Read(ref _refused) && !HoldsClaim;

    private bool _claimed;
    private bool _refused;

    /// <summary>The click's claim is this delivery's: the first try's, or one after a refusal (<see cref="Reclaiming"/>).</summary>
    public void Claimed() => Volatile.Write(ref _claimed, true);

    /// <summary>From the arrival to the pipeline: reading, parsing and verifying the callback, and any wait for a slot.</summary>
    public TimeSpan BeforePipeline => clock.GetElapsedTime(arrivedAt, _entered);

    /// <summary>Since the callback entered the pipeline.</summary>
    public TimeSpan InPipeline => clock.GetElapsedTime(_entered);

    /// <summary>The handler chosen, once it has started.</summary>
    public string? Handler { get; private set; }

    /// <summary>What is left of <paramref name="budget"/> now, counted from the arrival; zero once it is spent.</summary>
    public TimeSpan Remaining(TimeSpan budget) => BudgetLeft(clock, arrivedAt, budget);

    /// <summary>What is left of <paramref name="budget"/> for a callback that arrived at <paramref name="arrivedAt"/>; zero once it is spent.</summary>
    public static TimeSpan BudgetLeft(TimeProvider clock, long arrivedAt, TimeSpan budget)
    {
        var left = budget - clock.GetElapsedTime(arrivedAt);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>
    /// The budget is spent before the callback's outcome was being committed: the transport may answer <c>{}</c> now,
    /// and the pipeline goes on without DingTalk waiting. Returns where the callback was — still waiting on storage for
    /// its claim or its card, in its handler, or, the handler done, waiting on storage to commit; or, a redelivery, still
    /// waiting for the first delivery's record or for storage to let it try the claim again — or null when it may not be
    /// answered early: it is being committed (its answer comes in a moment), or its transport went away.
    /// </summary>
    public AnswerStage? TryAnswerEarly()
    {
        while (true)
        {
            var state = Volatile.Read(ref _state);
            AnswerStage? reached = state switch
            {
                Claiming => AnswerStage.Storage,
                HandlerRunning => AnswerStage.Handler,
                HandlerDone => AnswerStage.Commit,
                Redelivery => AnswerStage.Redelivery,
                _ => null, // committing, or its transport gone
            };
            if (reached is not { } stage)
            {
                return null;
            }

            if (Interlocked.CompareExchange(ref _state, stage == AnswerStage.Redelivery ? RedeliveryAnsweredEarly : AnsweredEarly, state) == state)
            {
                _answeredEarlyAt = stage;
                return stage;
            }
        }
    }

    /// <summary>
    /// The claim was refused: a redelivery, answered from the first delivery's record, whose wait for it ends at the
    /// budget (<see cref="Remaining"/>) — or, should storage hold it past the budget (its next try at the claim waiting for
    /// SQLite's writer, say), answered <c>{}</c> then (<see cref="TryAnswerEarly"/>). False when it already was answered
    /// early (its wait for the claim took the budget).
    /// </summary>
    public bool Redelivered()
    {
        Volatile.Write(ref _refused, true);
        return Interlocked.CompareExchange(ref _state, Redelivery, Claiming) == Claiming;
    }

    /// <summary>
    /// A redelivery's answer, from the first delivery's record, is ready: from now on the answer is the pipeline's, to be
    /// said (3104). False when it was answered <c>{}</c> at its budget as a redelivery (<see cref="AnswerStage.Redelivery"/>),
    /// which said it then.
    /// </summary>
    public bool TryAnswerRedelivery() => TryCommit() || Volatile.Read(ref _state) != RedeliveryAnsweredEarly;

    /// <summary>
    /// The delivery that held the id ended without a record (its transaction rolled back): this one claims it after
    /// all, and is a callback like any other again — or, answered early meanwhile, one whose answer has left.
    /// </summary>
    public void Reclaiming() => Interlocked.CompareExchange(ref _state, Claiming, Redelivery);

    /// <summary>
    /// The transport went away before the handler started: its wait for storage may stop (DingTalk, without an answer,
    /// delivers again). False once the callback was answered early: DingTalk has <c>{}</c>, so the click must be seen
    /// through whatever the transport does; or once the handler started, when it is seen through anyway.
    /// </summary>
    public bool TryAbandon() => Interlocked.CompareExchange(ref _state, Abandoned, Claiming) == Claiming;

    /// <summary>
    /// The handler starts: what came before it since the pipeline began was storage's (the claim, the card's read). A run
    /// again (<see cref="HandlerRunAgain"/>) counts from the first run's start: the time between is the handler's.
    /// </summary>
    public void HandlerStarted(string handler)
    {
        Handler = handler;
        if (_handlerStarted == 0)
        {
            _handlerStarted = clock.GetTimestamp();
        }

        Interlocked.CompareExchange(ref _state, HandlerRunning, Claiming);
    }

    /// <summary>The handler is done: what follows is the commit (on SQLite, after getting back on the writer if it had left it).</summary>
    public void HandlerEnded()
    {
        _handlerEnded = clock.GetTimestamp();
        Interlocked.CompareExchange(ref _state, HandlerDone, HandlerRunning);
    }

    /// <summary>The handler runs again (its click met another's): running once more, its time counted from its first start.</summary>
    public void HandlerRunAgain() => Interlocked.CompareExchange(ref _state, HandlerRunning, HandlerDone);

    /// <summary>
    /// The outcome is about to be recorded and committed: from now on the answer is the pipeline's. False when the
    /// callback was answered early (<see cref="TryAnswerEarly"/>): DingTalk has <c>{}</c>, and that is what to record.
    /// </summary>
    public bool TryCommit()
    {
        while (true)
        {
            var state = Volatile.Read(ref _state);
            if (state is AnsweredEarly or RedeliveryAnsweredEarly or Committing)
            {
                return state == Committing;
            }

            if (Interlocked.CompareExchange(ref _state, Committing, state) == state)
            {
                return true;
            }
        }
    }

    /// <summary>
    /// The answer is ready: its parts when it leaves <paramref name="after"/> or more after the arrival, else null.
    /// With no handler run (a redelivery, no handler for the action), all the pipeline's time is storage's; with one that
    /// overran, the handler's part runs to the answer and there is no commit before it. Answered early, only where the
    /// callback was then counts: its handler may start or end in the background meanwhile, after the answer's time.
    /// </summary>
    public LateAnswer? Late(TimeSpan after)
    {
        var answered = clock.GetTimestamp();
        var total = clock.GetElapsedTime(arrivedAt, answered);
        if (total < after)
        {
            return null;
        }

        var reading = clock.GetElapsedTime(arrivedAt, _entered);
        if (_handlerStarted == 0 || _answeredEarlyAt is AnswerStage.Storage or AnswerStage.Redelivery)
        {
            return new LateAnswer(total, reading, clock.GetElapsedTime(_entered, answered), TimeSpan.Zero, TimeSpan.Zero);
        }

        var handlerEnded = _handlerEnded == 0 || _answeredEarlyAt == AnswerStage.Handler ? answered : _handlerEnded;
        return new LateAnswer(
            total,
            reading,
            clock.GetElapsedTime(_entered, _handlerStarted),
            clock.GetElapsedTime(_handlerStarted, handlerEnded),
            clock.GetElapsedTime(handlerEnded, answered));
    }
}

/// <summary>A callback answered late, and where its time went.</summary>
/// <param name="Total">From its arrival to its answer.</param>
/// <param name="Reading">Reading, parsing and verifying it: the network (a slow sender) or a gateway short of threads; also the wait for a slot (a Stream frame slot, an HTTP callback slot).</param>
/// <param name="Storage">Claiming it and reading its card, or, for a redelivery, finding the first delivery's answer: the database (SQLite's writer, PostgreSQL's locks or pool).</param>
/// <param name="Handler">The handler, to its end or, past its budget, to the answer.</param>
/// <param name="Commit">
/// After the handler: getting back on SQLite's writer if the handler had left it while waiting, recording the outcome and
/// queueing the update for everyone, then the commit; or, answered before that was done, to the answer.
/// </param>
public sealed record LateAnswer(TimeSpan Total, TimeSpan Reading, TimeSpan Storage, TimeSpan Handler, TimeSpan Commit)
{
    /// <summary>The part that took longest: <c>reading</c>, <c>storage</c>, <c>handler</c> or <c>commit</c> (a metric tag, so a fixed set).</summary>
    public string Slowest =>
        new[] { ("reading", Reading), ("storage", Storage), ("handler", Handler), ("commit", Commit) }.MaxBy(p => p.Item2).Item1;
}
