using System.Threading.RateLimiting;
using DingTalk.CardGateway.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>
/// How many verified HTTP callbacks are handled at once, for the whole process (<see cref="CallbackHandlingOptions.MaxInFlight"/>):
/// a callback holds its slot until its click is through — committed or given up —, a handler that overran its budget
/// included, so a burst of slow clicks runs no more handlers (nor holds more database connections) than there are
/// slots. <see cref="WaitingPerSlot"/> times as many more wait for one, oldest first, each for what is left of its budget;
/// one whose budget runs out waiting is answered <c>{}</c> then, so DingTalk shows its user no error, and its click is
/// handled once a slot frees, never outside the limit (warning 3128). One more is refused with 503 and a
/// <c>Retry-After</c>: its user sees DingTalk's error and may click again; nothing was taken, so nothing is lost (3129,
/// once until a callback gets a slot at once again: 3130). Stream frames have their own slots
/// (<c>DingTalk:Stream:MaxFramesInFlight</c>), which also keep the socket unread while full.
/// </summary>
public sealed partial class HttpCallbackSlots : IDisposable
{
    /// <summary>Callbacks that may wait for a slot, per slot (as a Stream connection's frames do).</summary>
    public const int WaitingPerSlot = 4;

    private const string RetryAfterSeconds = "1";

    private readonly CallbackPipeline _pipeline;
    private readonly IOptionsMonitor<CallbackHandlingOptions> _options;
    private readonly GatewayMetrics _metrics;
    private readonly TimeProvider _clock;
    private readonly ILogger<HttpCallbackSlots> _logger;
    private readonly ConcurrencyLimiter _slots;
    private long _refused; // since a callback last got a slot at once: 0 when the slots are not overrun

    public HttpCallbackSlots(
        CallbackPipeline pipeline,
        IOptionsMonitor<CallbackHandlingOptions> options,
        GatewayMetrics metrics,
        TimeProvider clock,
        ILogger<HttpCallbackSlots> logger)
    {
        (_pipeline, _options, _metrics, _clock, _logger) = (pipeline, options, metrics, clock, logger);
        MaxInFlight = options.CurrentValue.MaxInFlight; // read once: the slots are made at startup
        _slots = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = MaxInFlight,
            QueueLimit = WaitingPerSlot * MaxInFlight,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    /// <summary>The slots, as configured at startup.</summary>
    public int MaxInFlight { get; }

    /// <summary>Callbacks waiting for a slot now, those answered <c>{}</c> at their budget included.</summary>
    public long Waiting => _slots.GetStatistics()?.CurrentQueuedCount ?? 0;

    /// <summary>
    /// Runs <paramref name="action"/> through the pipeline in a slot and answers with what it says; <paramref name="arrivedAt"/>
    /// is the pipeline's clock's timestamp as the endpoint began, before the body was read (its budget counts from it,
    /// a wait for a slot included). <paramref name="endpoint"/> names the route in the refusal metric.
    /// </summary>
    public async Task<IResult> AnswerAsync(HttpContext http, CardAction action, long arrivedAt, string endpoint)
    {
        var lease = _slots.AttemptAcquire();
        if (lease.IsAcquired)
        {
            if (Interlocked.Read(ref _refused) > 0 && Interlocked.Exchange(ref _refused, 0) is var refused and > 0)
            {
                Log.TakingAgain(_logger, refused, MaxInFlight);
            }

            return await HandleInSlotAsync(http, action, arrivedAt, lease);
        }

        lease.Dispose();
        return await WaitForSlotAsync(http, action, arrivedAt, endpoint);
    }

    public void Dispose() => _slots.Dispose();

    private async Task<IResult> HandleInSlotAsync(HttpContext http, CardAction action, long arrivedAt, RateLimitLease lease)
    {
        var answered = Answered(http);
        CallbackHandling handling;
        try
        {
            handling = await _pipeline.HandleThroughAsync(action, arrivedAt, answered.Task, http.RequestAborted);
        }
        catch
        {
            lease.Dispose();
            throw;
        }

        _ = ReleaseWhenThroughAsync(handling.Through, lease); // answered {} at its budget, the slot stays taken until its click is through

        return new CallbackAnswerResult(handling.Reply.AnswerJson, answered);
    }

    /// <summary>
    /// Every slot busy: waits for one, oldest first, for what is left of the budget. A waiting place is kept past the budget
    /// too — the click answered <c>{}</c> then, and handled in its turn — so what waits is bounded by the waiting places,
    /// and a callback finding them all taken is refused.
    /// </summary>
    private async Task<IResult> WaitForSlotAsync(HttpContext http, CardAction action, long arrivedAt, string endpoint)
    {
        var leaving = new CancellationTokenSource(); // the request gone before its budget: its waiting place is given back
        var acquiring = _slots.AcquireAsync(1, leaving.Token).AsTask();
        if (acquiring.IsCompletedSuccessfully && !acquiring.Result.IsAcquired)
        {
            acquiring.Result.Dispose();
            leaving.Dispose();
            return Refuse(http, endpoint);
        }

        var budget = _options.CurrentValue.HandlerBudget;
        RateLimitLease lease;
        try
        {
            lease = await acquiring.WaitAsync(AnswerTimeline.BudgetLeft(_clock, arrivedAt, budget), _clock, http.RequestAborted);
        }
        catch (TimeoutException)
        {
            return await AnswerBeforeTurnAsync(http, action, arrivedAt, acquiring, leaving);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The sender gave up before an answer: the click was not taken, so its waiting place goes to the next one.
            await leaving.CancelAsync();
            _ = ReleaseIfAcquiredAsync(acquiring, leaving);
            return Results.Empty;
        }

        leaving.Dispose();
        if (!lease.IsAcquired)
        {
            lease.Dispose();
            return Refuse(http, endpoint); // the slots were disposed under it: the gateway is stopping
        }

        return await HandleInSlotAsync(http, action, arrivedAt, lease);
    }

    /// <summary>
    /// Its budget went by while every slot was busy: answered <c>{}</c> now, its click handled once a slot frees. Once
    /// answered it is DingTalk's no more, so neither the request going nor the gateway stopping ends its wait: a stopping
    /// gateway waits for it as for a handler that overran (<see cref="HandlerDrain"/>).
    /// </summary>
    private async Task<CallbackAnswerResult> AnswerBeforeTurnAsync(HttpContext http, CardAction action, long arrivedAt, Task<RateLimitLease> acquiring, CancellationTokenSource leaving)
    {
        Log.WaitedPastBudget(_logger, action.CallbackId, action.CardId, MaxInFlight);
        var kept = await _pipeline.KeepAnsweredAsync(action); // before its {} leaves: DingTalk will not deliver it again
        var answered = Answered(http);
        _ = HandleInTurnAsync();
        return new CallbackAnswerResult(CardCallbackResponse.Empty.ToJson(), answered);

        async Task HandleInTurnAsync()
        {
            RateLimitLease? lease = null;
            try
            {
                await _pipeline.HandleAnsweredAsync(
                    action,
                    arrivedAt,
                    async () =>
                    {
                        await answered.Task;
                        lease = await acquiring;
                        if (!lease.IsAcquired)
                        {
                            throw new InvalidOperationException("The gateway stopped before a callback slot freed.");
                        }
                    },
                    kept);
            }
            finally
            {
                lease?.Dispose();
                leaving.Dispose();
            }
        }
    }

    private ProblemHttpResult Refuse(HttpContext http, string endpoint)
    {
        if (Interlocked.Increment(ref _refused) == 1)
        {
            Log.Refusing(_logger, MaxInFlight, WaitingPerSlot * MaxInFlight);
        }

        _metrics.Refused(endpoint, "Busy");
        http.Response.Headers.RetryAfter = RetryAfterSeconds;
        return TypedResults.Problem(
            statusCode: StatusCodes.Status503ServiceUnavailable,
            title: "Gateway busy",
            detail: $"All {MaxInFlight} callback slots (Gateway:Callbacks:MaxInFlight) are busy and {WaitingPerSlot * MaxInFlight} callbacks already wait for one: this click was not taken. Click again.");
    }

    /// <summary>Completes once the answer has left (or could not): updates for everyone wait for it.</summary>
    private static TaskCompletionSource Answered(HttpContext http)
    {
        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        http.Response.OnCompleted(() => // also when the answer never gets written (an error, a client gone)
        {
            answered.TrySetResult();
            return Task.CompletedTask;
        });
        return answered;
    }

    private static async Task ReleaseWhenThroughAsync(Task through, RateLimitLease lease)
    {
        try
        {
            await through;
        }
        catch (Exception)
        {
            // said by the pipeline, which sees every early-answered click through
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>A slot that came as its request went (the wait given up too late to leave the queue) goes back at once.</summary>
    private static async Task ReleaseIfAcquiredAsync(Task<RateLimitLease> acquiring, CancellationTokenSource leaving)
    {
        try
        {
            (await acquiring).Dispose();
        }
        catch (OperationCanceledException)
        {
            // left the queue: no slot was taken
        }
        finally
        {
            leaving.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3128, LogLevel.Warning, "Card callback {CallbackId} (card {CardId}) waited its whole answer budget (Gateway:Callbacks:HandlerBudget) for a callback slot, all {MaxInFlight} busy (Gateway:Callbacks:MaxInFlight): answered {{}} now, so DingTalk shows the user no error, and its click handled once a slot frees (its update for everyone follows then), never outside the limit")]
        public static partial void WaitedPastBudget(ILogger logger, string callbackId, string cardId, int maxInFlight);

        [LoggerMessage(3129, LogLevel.Warning, "Card callbacks refused with 503 (Retry-After 1 s): all {MaxInFlight} callback slots (Gateway:Callbacks:MaxInFlight) are busy and {Waiting} callbacks wait for one. Their users see DingTalk's error and may click again; nothing is taken. Handlers are slower than clicks come: raise Gateway:Callbacks:MaxInFlight if storage can take it, or make the handlers answer sooner. Said once until a callback gets a slot at once again")]
        public static partial void Refusing(ILogger logger, int maxInFlight, int waiting);

        [LoggerMessage(3130, LogLevel.Information, "Card callbacks get a slot at once again (Gateway:Callbacks:MaxInFlight, {MaxInFlight}); {Refused} were refused with 503 meanwhile")]
        public static partial void TakingAgain(ILogger logger, long refused, int maxInFlight);
    }
}
