using System.Text;

namespace DingTalk.CardGateway.Callbacks;

/// <summary>Writes the callback answer, completes the response, and only then lets the updates for everyone go.</summary>
public sealed class CallbackAnswerResult(string answerJson, TaskCompletionSource answered) : IResult
{
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
