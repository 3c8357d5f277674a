namespace DingTalk.CardGateway.Storage.Sql;

/// <summary>
/// The first sign that the database answers again — a click committed, a pass of the outbox dispatcher gone through,
/// readiness finding it answering — heard by the clicks waiting out a retry's backoff after they lost their way to it
/// (<see cref="StorageFailure.IsUnreachable"/>), so they try again at once instead of sleeping up to 10 s while
/// holding their callback slots, while fresh clicks wait for a slot and are answered <c>{}</c> (README, "When PostgreSQL
/// restarts": the figures through a 20 s network black hole, before and after). A database still away answers
/// nothing, so nothing wakes them: their backoff stands.
/// </summary>
public sealed class DatabaseBack
{
    private readonly Lock _gate = new();
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _awaited; // read on every commit: someone waiting is rare

    /// <summary>
    /// Completes the next time the database answers after this call (<see cref="Answered"/>): taken as a failure is
    /// met, so an answer between the failure and the wait still wakes it.
    /// </summary>
    public Task Next()
    {
        lock (_gate)
        {
            _awaited = true;
            return _next.Task;
        }
    }

    /// <summary>The database answered (a commit, a query): wakes whatever waits for it.</summary>
    public void Answered()
    {
        if (!_awaited)
        {
            return;
        }

        TaskCompletionSource answered;
        lock (_gate)
        {
            answered = _next;
            _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _awaited = false;
        }

        answered.TrySetResult();
    }
}
