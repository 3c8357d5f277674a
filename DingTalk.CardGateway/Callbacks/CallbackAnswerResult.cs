using System.Text;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>Writes the callback answer, completes the response, and only then lets the updates for everyone go.</summary>
public sealed class CallbackAnswerResult(string answerJson, TaskCompletionSource answered) : IResult
{
    /// <summary>
    /// Runs <paramref name="action"/> through the pipeline and answers with what it says; <paramref name="arrivedAt"/> is
    /// the pipeline's clock's timestamp as the endpoint began, before the body was read.
    /// </summary>
    public static async Task<IResult> AnswerAsync(HttpContext http, CallbackPipeline pipeline, CardAction action, long arrivedAt)
    {
        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Also released if the answer never gets written (an error, a client gone).
        http.Response.OnCompleted(() =>
        {
            answered.TrySetResult();
            return Task.CompletedTask;
        });
        var reply = await pipeline.HandleAsync(action, arrivedAt, answered.Task, http.RequestAborted);
        return new CallbackAnswerResult(reply.AnswerJson, answered);
    }

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        try
        {
            var body = Encoding.UTF8.GetBytes(answerJson);
            var response = httpContext.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/json; charset=utf-8";
            response.ContentLength = body.Length;
            await response.Body.WriteAsync(body, httpContext.RequestAborted);
            await response.CompleteAsync();
        }
        finally
        {
            answered.TrySetResult();
        }
    }
}
