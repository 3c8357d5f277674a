using System.Net;
using DingTalk.CardGateway.Cards;

namespace DingTalk.CardGateway.Tests.Cards;

/// <summary>Which failed attempts may have been carried out by DingTalk, so that a retry's "already exists" can be ours.</summary>
public class UncertainAttemptHandlerTests
{
    [Theory]
    [InlineData(HttpStatusCode.GatewayTimeout, true)]
    [InlineData(HttpStatusCode.InternalServerError, true)]
    [InlineData(HttpStatusCode.TooManyRequests, false)]
    [InlineData(HttpStatusCode.Forbidden, false)]
    [InlineData(HttpStatusCode.BadRequest, false)]
    [InlineData(HttpStatusCode.OK, false)]
    public async Task An_answer_marks_the_request_only_when_it_is_a_5xx(HttpStatusCode status, bool marked)
    {
        var request = await SendAsync(_ => Task.FromResult(new HttpResponseMessage(status)));

        Assert.Equal(marked, UncertainAttemptHandler.IsMarked(request));
    }

    [Fact]
    public async Task A_timed_out_attempt_marks_the_request()
    {
        var request = await SendAsync(_ => throw new TaskCanceledException("attempt timeout"));

        Assert.True(UncertainAttemptHandler.IsMarked(request));
    }

    [Fact]
    public async Task A_connection_broken_after_sending_marks_the_request()
    {
        var request = await SendAsync(_ => throw new HttpRequestException(HttpRequestError.ResponseEnded, "the server closed the connection"));

        Assert.True(UncertainAttemptHandler.IsMarked(request));
    }

    [Fact]
    public async Task A_refused_connection_does_not_mark_it_the_request_never_left()
    {
        var request = await SendAsync(_ => throw new HttpRequestException(HttpRequestError.ConnectionError, "connection refused"));

        Assert.False(UncertainAttemptHandler.IsMarked(request));
    }

    [Fact]
    public async Task A_mark_stays_for_the_later_attempts_of_the_same_request()
    {
        var answers = new Queue<HttpStatusCode>([HttpStatusCode.ServiceUnavailable, HttpStatusCode.BadRequest]);
        using var invoker = new HttpMessageInvoker(new UncertainAttemptHandler { InnerHandler = new Answering(_ => Task.FromResult(new HttpResponseMessage(answers.Dequeue()))) });
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://dingtalk.test/v1.0/card/instances/createAndDeliver");

        (await invoker.SendAsync(request, CancellationToken.None)).Dispose();
        using var second = await invoker.SendAsync(request, CancellationToken.None);

        Assert.Equal(HttpStatusCode.BadRequest, second.StatusCode);
        Assert.True(UncertainAttemptHandler.IsMarked(second.RequestMessage ?? request));
    }

    private static async Task<HttpRequestMessage> SendAsync(Func<HttpRequestMessage, Task<HttpResponseMessage>> answer)
    {
        using var invoker = new HttpMessageInvoker(new UncertainAttemptHandler { InnerHandler = new Answering(answer) });
        var request = new HttpRequestMessage(HttpMethod.Post, "http://dingtalk.test/v1.0/card/instances/createAndDeliver");
        try
        {
            (await invoker.SendAsync(request, CancellationToken.None)).Dispose();
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            // the attempt failed; the mark is what is checked
        }

        return request;
    }

    private sealed class Answering(Func<HttpRequestMessage, Task<HttpResponseMessage>> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => answer(request);
    }
}
